import { describe, expect, it } from 'vitest';
import { changedValues, formatValue, labelOf, parameterOfError, unitOf } from '../src/parameters';
import type { Parameter } from '../src/types';

const flange: Parameter[] = [
  { name: 'diameter', value: 80, kind: 'length', label: 'diameter' },
  { name: 'height', value: 15, kind: 'length', label: 'thickness' },
  { name: 'bolt_hole_count', value: 6, kind: 'count', label: 'bolt hole count' },
  { name: 'bolt_hole_circle_x', value: 0, kind: 'position', label: 'bolt hole circle x' },
  { name: 'start_angle', value: 22.5, kind: 'angle', label: 'start angle' },
  { name: 'third', value: 100 / 3, kind: 'length', label: 'third' },
];

describe('parameters', () => {
  it('names the unit of each kind', () => {
    expect(unitOf('length')).toBe('mm');
    expect(unitOf('position')).toBe('mm');
    expect(unitOf('angle')).toBe('°');
    expect(unitOf('count')).toBe('');
  });

  it('shows values without float noise', () => {
    expect(formatValue(15)).toBe('15');
    expect(formatValue(2.25)).toBe('2.25');
    expect(formatValue(100 / 3)).toBe('33.3333');
    expect(formatValue(0.1 + 0.2)).toBe('0.3');
    expect(formatValue(-0)).toBe('0');
    expect(formatValue(-2.5)).toBe('-2.5');
  });

  it('labels for people', () => {
    expect(labelOf({ name: 'height', label: 'thickness' })).toBe('Thickness');
    expect(labelOf({ name: 'hole_diameter', label: '' })).toBe('Hole diameter');
  });

  it('sends only the values that changed', () => {
    expect(changedValues(flange, {})).toEqual({ ok: true, values: {} });
    // Untouched inputs hold the shown (rounded) values: no change.
    const shown = Object.fromEntries(flange.map((p) => [p.name, formatValue(p.value)]));
    expect(changedValues(flange, shown)).toEqual({ ok: true, values: {} });
    expect(changedValues(flange, { ...shown, height: '12', bolt_hole_count: ' 8 ' })).toEqual({
      ok: true,
      values: { height: 12, bolt_hole_count: 8 },
    });
    expect(changedValues(flange, { ...shown, start_angle: '30,5' })).toEqual({ ok: true, values: { start_angle: 30.5 } });
    // Whether a number makes sense is the server's to say.
    expect(changedValues(flange, { height: '-2' })).toEqual({ ok: true, values: { height: -2 } });
  });

  it('refuses what is not a number, naming it', () => {
    expect(changedValues(flange, { height: '' })).toEqual({ ok: false, name: 'height', message: 'Enter a number for the thickness.' });
    expect(changedValues(flange, { diameter: 'abc' })).toMatchObject({ ok: false, name: 'diameter' });
    expect(changedValues(flange, { diameter: 'Infinity' })).toMatchObject({ ok: false, name: 'diameter' });
  });

  it('finds the parameter an API error is about', () => {
    expect(parameterOfError('values.height: The thickness must be positive, not -2 mm.')).toBe('height');
    expect(parameterOfError('values: every value is already the current one')).toBeNull();
    expect(parameterOfError('The bolt holes do not fit the flange.')).toBeNull();
  });
});
