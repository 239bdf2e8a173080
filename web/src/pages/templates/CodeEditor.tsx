import { useEffect, useRef, useState } from 'react';
import type { PartEditor, PartLanguage } from './codemirror.ts';

type CodeMirrorModule = typeof import('./codemirror.ts');
let loading: Promise<CodeMirrorModule> | undefined;

/** CodeMirror, loaded on first use (its own chunk). */
export function loadCodeMirror(): Promise<CodeMirrorModule> {
  loading ??= import('./codemirror.ts');
  return loading;
}

/**
 * One template part in a CodeMirror editor. `value` from outside (a rollback, another version) replaces
 * the text; edits go out through `onChange`. `problemLines` are highlighted (validation errors).
 */
export function CodeEditor({
  value,
  onChange,
  label,
  language,
  readOnly,
  multiline,
  problemLines,
  describedBy,
}: {
  value: string;
  onChange: (value: string) => void;
  label: string;
  language: PartLanguage;
  readOnly: boolean;
  multiline: boolean;
  problemLines: number[];
  describedBy?: string;
}) {
  const host = useRef<HTMLDivElement>(null);
  const editor = useRef<PartEditor | null>(null);
  const changed = useRef(onChange);
  changed.current = onChange;
  const initial = useRef(value);
  initial.current = value;
  const [failed, setFailed] = useState<unknown>(null);
  const [ready, setReady] = useState(false);

  useEffect(() => {
    let cancelled = false;
    loadCodeMirror().then(
      (cm) => {
        if (cancelled || !host.current) return;
        editor.current = cm.createEditor({
          parent: host.current,
          doc: initial.current,
          language,
          label,
          readOnly,
          multiline,
          onChange: (doc) => changed.current(doc),
        });
        setReady(true);
      },
      (error: unknown) => setFailed(error),
    );
    return () => {
      cancelled = true;
      editor.current?.destroy();
      editor.current = null;
      setReady(false);
    };
  }, [language, label, readOnly, multiline]);

  useEffect(() => {
    if (ready) editor.current?.setDoc(value);
  }, [value, ready]);

  const lines = problemLines.join(',');
  useEffect(() => {
    if (ready) editor.current?.markLines(lines ? lines.split(',').map(Number) : []);
  }, [lines, ready]);

  if (failed) {
    // Without the editor chunk the part can still be read and edited as plain text.
    return (
      <textarea
        aria-label={label}
        value={value}
        readOnly={readOnly}
        onChange={(e) => onChange(e.target.value)}
        aria-describedby={describedBy}
      />
    );
  }
  return (
    <div
      ref={host}
      className={`code-editor${multiline ? ' code-editor-multiline' : ''}`}
      data-part-editor={label}
      aria-describedby={describedBy}
      aria-busy={ready ? undefined : true}
    />
  );
}
