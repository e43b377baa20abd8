// Numbers and dates as a person reads them.

import type { ModelMetrics } from './types';

const num = (value: number, digits: number) =>
  value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });

/** A length in mm with at most two decimals: "80 mm", "12.5 mm". */
export function mm(value: number): string {
  return `${num(value, 2)} mm`;
}

/** Size of a bounding box: "80 × 80 × 10 mm". */
export function boxSize(box: ModelMetrics['bounding_box']): string {
  const [x0, y0, z0, x1, y1, z1] = box;
  return `${num(x1 - x0, 2)} × ${num(y1 - y0, 2)} × ${num(z1 - z0, 2)} mm`;
}

/** A volume in mm³ (cm³ from 1 000 000 mm³ up). */
export function volume(mm3: number): string {
  if (Math.abs(mm3) >= 1_000_000) return `${num(mm3 / 1000, 1)} cm³`;
  return `${num(mm3, 1)} mm³`;
}

/** An area in mm² (cm² from 1 000 000 mm² up). */
export function area(mm2: number): string {
  if (Math.abs(mm2) >= 1_000_000) return `${num(mm2 / 100, 1)} cm²`;
  return `${num(mm2, 1)} mm²`;
}

/** A mass: "7.44 g", "1.25 kg" from 1000 g up. */
export function grams(g: number): string {
  if (Math.abs(g) >= 1000) return `${num(g / 1000, 2)} kg`;
  return `${num(g, 2)} g`;
}

/** File sizes: "512 B", "1.5 KB", "2.3 MB". */
export function bytes(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${num(n / 1024, 1)} KB`;
  return `${num(n / 1024 / 1024, 1)} MB`;
}

/** "just now", "5 min ago", "3 h ago", else the date. */
export function ago(iso: string, now: Date = new Date()): string {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return '';
  const s = Math.round((now.getTime() - t.getTime()) / 1000);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return t.toLocaleDateString('en-US', { year: 'numeric', month: 'short', day: 'numeric' });
}

/** A full local date and time for tooltips. */
export function when(iso: string): string {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return '';
  return t.toLocaleString('en-US', { dateStyle: 'medium', timeStyle: 'medium' });
}
