/**
 * Everything CodeMirror, in one module the template screens load with `import()`: it becomes its own
 * chunk, so the editor never weighs on the panel's initial bundle. Liquid highlighting (over HTML for an
 * email's HTML body), colours from the panel's CSS variables (both themes), lines with a validation
 * problem marked, and a side-by-side merge view for diffs.
 */
import { html } from '@codemirror/lang-html';
import { liquid } from '@codemirror/lang-liquid';
import { HighlightStyle, syntaxHighlighting } from '@codemirror/language';
import { MergeView } from '@codemirror/merge';
import { EditorState, type Extension, RangeSetBuilder, StateEffect, StateField } from '@codemirror/state';
import { Decoration, type DecorationSet, EditorView } from '@codemirror/view';
import { tags } from '@lezer/highlight';
import { basicSetup, minimalSetup } from 'codemirror';

export type PartLanguage = 'liquid-html' | 'liquid';

const highlight = HighlightStyle.define([
  { tag: [tags.keyword, tags.controlKeyword, tags.operatorKeyword], color: 'var(--cm-keyword)' },
  { tag: [tags.tagName, tags.angleBracket], color: 'var(--cm-tag)' },
  { tag: [tags.attributeName, tags.propertyName], color: 'var(--cm-attribute)' },
  { tag: [tags.string, tags.attributeValue], color: 'var(--cm-string)' },
  { tag: [tags.variableName, tags.name], color: 'var(--cm-variable)' },
  { tag: [tags.number, tags.bool, tags.atom], color: 'var(--cm-number)' },
  { tag: [tags.comment, tags.blockComment], color: 'var(--cm-comment)', fontStyle: 'italic' },
  { tag: [tags.brace, tags.bracket, tags.punctuation], color: 'var(--cm-punctuation)' },
]);

const theme = EditorView.theme({
  '&': { backgroundColor: 'var(--surface)', color: 'var(--text)', fontSize: '0.9rem' },
  '.cm-content': { caretColor: 'var(--text)', fontFamily: 'ui-monospace, SFMono-Regular, Menlo, monospace' },
  '.cm-gutters': {
    backgroundColor: 'var(--surface)',
    color: 'var(--muted)',
    borderRight: '1px solid var(--border)',
  },
  '.cm-activeLine, .cm-activeLineGutter': { backgroundColor: 'transparent' },
  '&.cm-focused': { outline: '2px solid var(--accent)' },
  '.cm-problem-line': { backgroundColor: 'var(--cm-problem-bg)', boxShadow: 'inset 3px 0 0 var(--danger)' },
  '.cm-selectionBackground, &.cm-focused .cm-selectionBackground': { backgroundColor: 'var(--cm-selection)' },
});

function language(kind: PartLanguage): Extension {
  return kind === 'liquid-html' ? liquid({ base: html() }) : liquid();
}

function labelled(label: string, readOnly: boolean): Extension {
  return EditorView.contentAttributes.of({
    'aria-label': label,
    'aria-multiline': 'true',
    ...(readOnly ? { 'aria-readonly': 'true' } : {}),
  });
}

// Lines with a validation problem: replaced as a whole by each `setProblemLines`.
const setProblemLines = StateEffect.define<number[]>();
const problemLine = Decoration.line({ class: 'cm-problem-line' });
const problemLines = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(value, tr) {
    let next = value.map(tr.changes);
    for (const effect of tr.effects) {
      if (!effect.is(setProblemLines)) continue;
      const builder = new RangeSetBuilder<Decoration>();
      const lines = [...new Set(effect.value)].sort((a, b) => a - b);
      for (const n of lines) {
        if (n >= 1 && n <= tr.state.doc.lines) {
          const line = tr.state.doc.line(n);
          builder.add(line.from, line.from, problemLine);
        }
      }
      next = builder.finish();
    }
    return next;
  },
  provide: (field) => EditorView.decorations.from(field),
});

export interface PartEditor {
  setDoc(doc: string): void;
  markLines(lines: number[]): void;
  destroy(): void;
}

export function createEditor(options: {
  parent: HTMLElement;
  doc: string;
  language: PartLanguage;
  label: string;
  readOnly: boolean;
  multiline: boolean;
  onChange: (doc: string) => void;
}): PartEditor {
  const { readOnly } = options;
  const view = new EditorView({
    parent: options.parent,
    state: EditorState.create({
      doc: options.doc,
      extensions: [
        options.multiline ? basicSetup : minimalSetup,
        language(options.language),
        syntaxHighlighting(highlight),
        theme,
        EditorView.lineWrapping,
        labelled(options.label, readOnly),
        EditorState.readOnly.of(readOnly),
        EditorView.editable.of(!readOnly),
        problemLines,
        EditorView.updateListener.of((update) => {
          if (update.docChanged) options.onChange(update.state.doc.toString());
        }),
      ],
    }),
  });
  return {
    setDoc(doc) {
      if (doc !== view.state.doc.toString()) {
        view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: doc } });
      }
    },
    markLines(lines) {
      view.dispatch({ effects: setProblemLines.of(lines) });
    },
    destroy: () => view.destroy(),
  };
}

/** Two versions of one part side by side (a: older, left; b: newer, right), read-only. */
export function createMerge(options: {
  parent: HTMLElement;
  a: string;
  b: string;
  language: PartLanguage;
  labelA: string;
  labelB: string;
}): { destroy(): void } {
  const common = (label: string) => [
    minimalSetup,
    language(options.language),
    syntaxHighlighting(highlight),
    theme,
    EditorView.lineWrapping,
    labelled(label, true),
    EditorState.readOnly.of(true),
    EditorView.editable.of(false),
  ];
  const view = new MergeView({
    parent: options.parent,
    a: { doc: options.a, extensions: common(options.labelA) },
    b: { doc: options.b, extensions: common(options.labelB) },
    gutter: true,
    highlightChanges: true,
  });
  return { destroy: () => view.destroy() };
}
