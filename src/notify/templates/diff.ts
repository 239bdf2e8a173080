import { diffLines } from 'diff';

/** What changed between two versions of a template, part by part, line by line (the editor's history view). */
export interface PartChange {
  op: 'add' | 'remove' | 'same';
  lines: string[];
}

export interface PartDiff {
  part: string;
  changes: PartChange[];
}

/** Only changed parts are listed; a part present in one version only diffs against ''. */
export function diffParts(
  before: Record<string, string | undefined>,
  after: Record<string, string | undefined>,
): PartDiff[] {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  const out: PartDiff[] = [];
  for (const part of names) {
    const a = before[part] ?? '';
    const b = after[part] ?? '';
    if (a === b) continue;
    const changes = diffLines(a, b).map((c) => ({
      op: c.added ? ('add' as const) : c.removed ? ('remove' as const) : ('same' as const),
      lines: c.value.replace(/\n$/, '').split('\n'),
    }));
    out.push({ part, changes });
  }
  return out;
}
