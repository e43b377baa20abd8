// The named dimensions of a spec-built version, as the Parameters form shows
// and edits them: the unit of each kind, the value as typed, and which
// entries differ from the shown version (only those are sent, so the reply
// and the version history name exactly what the person changed).

import type { Parameter, ParameterKind } from './types';

/** The unit after a value: mm for lengths and positions, ° for angles, none for counts. */
export function unitOf(kind: ParameterKind): string {
  switch (kind) {
    case 'length':
    case 'position':
      return 'mm';
    case 'angle':
      return '°';
    case 'count':
      return '';
  }
}

/** A value as the form shows it: no float noise ("33.3333", "15", "-2.5"). */
export function formatValue(value: number): string {
  const rounded = Math.round(value * 10_000) / 10_000;
  return String(Object.is(rounded, -0) ? 0 : rounded);
}

/** "bolt hole diameter" → "Bolt hole diameter". */
export function labelOf(p: Pick<Parameter, 'label' | 'name'>): string {
  const text = (p.label || p.name.replace(/_/g, ' ')).trim();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export type Changes =
  | { ok: true; values: Record<string, number> }
  | { ok: false; name: string; message: string };

/**
 * The values that differ from the shown ones. `entered` holds what each
 * input contains by parameter name; a missing entry is unchanged. A value
 * that is not a number is refused naming its label; whether a number makes
 * sense (positive, whole, fits the part) is the server's to say.
 */
export function changedValues(parameters: Parameter[], entered: Record<string, string>): Changes {
  const values: Record<string, number> = {};
  for (const p of parameters) {
    const raw = entered[p.name];
    if (raw === undefined) continue;
    const text = raw.trim().replace(',', '.');
    const value = text === '' ? NaN : Number(text);
    if (!Number.isFinite(value)) {
      return { ok: false, name: p.name, message: `Enter a number for the ${p.label || p.name}.` };
    }
    // Compared with what was shown, so an untouched rounded value is no change.
    if (value !== Number(formatValue(p.value))) values[p.name] = value;
  }
  return { ok: true, values };
}

/** The parameter an API error is about ("values.height: …" → "height"). */
export function parameterOfError(message: string): string | null {
  return /^values\.([A-Za-z0-9_]+):/.exec(message)?.[1] ?? null;
}
