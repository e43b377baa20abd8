import { describe, expect, it } from 'vitest';
import { foldUnchanged, lineDiff } from '../src/diff';

describe('lineDiff', () => {
  it('numbers both sides and counts the changes', () => {
    const d = lineDiff('a\nb\nc\n', 'a\nB\nc\nd\n');
    expect(d.added).toBe(2);
    expect(d.removed).toBe(1);
    expect(d.rows.map((r) => [r.kind, r.oldNo, r.newNo, r.text])).toEqual([
      ['same', 1, 1, 'a'],
      ['del', 2, null, 'b'],
      ['add', null, 2, 'B'],
      ['same', 3, 3, 'c'],
      ['add', null, 4, 'd'],
    ]);
  });

  it('treats CRLF like LF and a missing final newline like one', () => {
    const d = lineDiff('x = 1\r\ny = 2\r\n', 'x = 1\ny = 2');
    expect(d.added + d.removed).toBe(0);
  });

  it('handles empty texts', () => {
    expect(lineDiff('', '').rows).toEqual([]);
    expect(lineDiff('', 'a\n')).toMatchObject({ added: 1, removed: 0 });
  });
});

describe('foldUnchanged', () => {
  const text = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}`).join('\n') + '\n';

  it('keeps context around a change and folds the rest', () => {
    const before = text(20);
    const after = before.replace('line 10\n', 'line ten\n');
    const rows = foldUnchanged(lineDiff(before, after).rows, 2);
    expect(rows.map((r) => (r.kind === 'fold' ? `fold ${r.hidden}` : `${r.kind} ${r.text}`))).toEqual([
      'fold 7',
      'same line 8',
      'same line 9',
      'del line 10',
      'add line ten',
      'same line 11',
      'same line 12',
      'fold 8',
    ]);
  });

  it('does not fold a single line', () => {
    const before = 'a\nb\nc\nd\n';
    const rows = foldUnchanged(lineDiff(before, before.replace('d', 'D')).rows, 2);
    expect(rows.some((r) => r.kind === 'fold')).toBe(false);
  });

  it('folds identical texts entirely', () => {
    const rows = foldUnchanged(lineDiff(text(10), text(10)).rows, 3);
    expect(rows).toEqual([{ kind: 'fold', oldNo: 1, newNo: 1, text: '', hidden: 10 }]);
  });
});
