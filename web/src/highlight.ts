// Python syntax highlighting for scripts (highlight.js core + one language).

import hljs from 'highlight.js/lib/core';
import python from 'highlight.js/lib/languages/python';

hljs.registerLanguage('python', python);

/** The script as highlighted HTML (escaped by highlight.js). */
export function highlightPython(code: string): string {
  return hljs.highlight(code, { language: 'python', ignoreIllegals: true }).value;
}

/** Highlights each line on its own, for numbered or diffed views. */
export function highlightLines(lines: string[]): string[] {
  return lines.map((line) => (line ? highlightPython(line) : ''));
}
