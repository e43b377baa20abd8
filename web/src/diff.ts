// What changed between two script versions: a line diff, numbered on both
// sides, with long unchanged stretches folded away.

import { diffLines } from 'diff';

export type RowKind = 'same' | 'add' | 'del' | 'fold';

export interface Row {
  kind: RowKind;
  /** Line number in the old text (same, del). */
  oldNo: number | null;
  /** Line number in the new text (same, add). */
  newNo: number | null;
  text: string;
  /** For a fold: how many unchanged lines it hides. */
  hidden?: number;
}

export interface LineDiff {
  rows: Row[];
  added: number;
  removed: number;
}

function splitLines(value: string): string[] {
  const lines = value.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Every line of both texts, marked same / add / del. */
export function lineDiff(oldText: string, newText: string): LineDiff {
  const rows: Row[] = [];
  let oldNo = 1;
  let newNo = 1;
  let added = 0;
  let removed = 0;
  // Line endings and a missing final newline are not changes a person cares about.
  const norm = (s: string) => {
    const lf = s.replace(/\r\n?/g, '\n');
    return lf && !lf.endsWith('\n') ? lf + '\n' : lf;
  };
  for (const part of diffLines(norm(oldText), norm(newText))) {
    for (const text of splitLines(part.value)) {
      if (part.added) {
        rows.push({ kind: 'add', oldNo: null, newNo: newNo++, text });
        added++;
      } else if (part.removed) {
        rows.push({ kind: 'del', oldNo: oldNo++, newNo: null, text });
        removed++;
      } else {
        rows.push({ kind: 'same', oldNo: oldNo++, newNo: newNo++, text });
      }
    }
  }
  return { rows, added, removed };
}

/**
 * Keeps `context` unchanged lines around each change and folds the rest into
 * one `fold` row each. A diff without changes folds entirely.
 */
export function foldUnchanged(rows: Row[], context = 3): Row[] {
  const keep = new Array<boolean>(rows.length).fill(false);
  rows.forEach((row, i) => {
    if (row.kind === 'same') return;
    for (let j = Math.max(0, i - context); j <= Math.min(rows.length - 1, i + context); j++) keep[j] = true;
  });
  const out: Row[] = [];
  let run: Row[] = [];
  const flush = () => {
    if (!run.length) return;
    // Folding a single line saves nothing.
    if (run.length === 1) out.push(run[0]);
    else out.push({ kind: 'fold', oldNo: run[0].oldNo, newNo: run[0].newNo, text: '', hidden: run.length });
    run = [];
  };
  rows.forEach((row, i) => {
    if (keep[i]) {
      flush();
      out.push(row);
    } else {
      run.push(row);
    }
  });
  flush();
  return out;
}
