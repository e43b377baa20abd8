import { describe, expect, it } from 'vitest';
import { ago, area, boxSize, bytes, grams, mm, volume } from '../src/format';
import { isPublic, match, safeNext } from '../src/router';

describe('format', () => {
  it('writes measurements', () => {
    expect(mm(12.5)).toBe('12.5 mm');
    expect(boxSize([-40, -40, 0, 40, 40, 10])).toBe('80 × 80 × 10 mm');
    expect(volume(47249.55)).toBe('47,249.6 mm³');
    expect(volume(2_500_000)).toBe('2,500 cm³');
    expect(area(13471.149)).toBe('13,471.1 mm²');
    expect(bytes(512)).toBe('512 B');
    expect(bytes(178684)).toBe('174.5 KB');
    expect(bytes(null)).toBe('');
    expect(grams(7.4432)).toBe('7.44 g');
    expect(grams(16200)).toBe('16.2 kg');
  });
  it('writes times', () => {
    const now = new Date('2026-01-02T12:00:00Z');
    expect(ago('2026-01-02T11:59:50Z', now)).toBe('just now');
    expect(ago('2026-01-02T11:55:00Z', now)).toBe('5 min ago');
    expect(ago('2026-01-02T09:00:00Z', now)).toBe('3 h ago');
    expect(ago('bogus', now)).toBe('');
  });
});

describe('router', () => {
  it('matches the client paths', () => {
    expect(match('/')).toEqual({ name: 'projects', params: {} });
    expect(match('/signin').name).toBe('signin');
    expect(match('/register/').name).toBe('register');
    expect(match('/projects/project-abc')).toEqual({ name: 'project', params: { id: 'project-abc', tab: 'model' } });
    expect(match('/projects/project-abc/scripts').params.tab).toBe('scripts');
    expect(match('/projects/a/b/c').name).toBe('notfound');
    expect(isPublic('signin')).toBe(true);
    expect(isPublic('project')).toBe(false);
  });
  it('only follows next= to a path of this site', () => {
    expect(safeNext('/projects/project-1')).toBe('/projects/project-1');
    expect(safeNext('//evil.example.com')).toBe('/');
    expect(safeNext('https://evil.example.com')).toBe('/');
    expect(safeNext('/signin')).toBe('/');
    expect(safeNext(null)).toBe('/');
  });
});
