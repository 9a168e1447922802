// Printing for the CLI: aligned text tables on stdout, JSON for scripts.
import { writeFileSync } from 'node:fs';

import { SparqError } from '../errors.js';

export function formatCell(v: string | number | boolean | undefined): string {
  if (v === undefined) return '';
  if (typeof v !== 'number') return String(v);
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (Number.isInteger(v)) return String(v);
  return a >= 100 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

export function textTable(columns: string[], rows: (string | number | boolean | undefined)[][]): string {
  const cells = [columns, ...rows.map((r) => r.map(formatCell))];
  const widths = columns.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => String(c ?? '').padEnd(widths[i])).join('  ').trimEnd();
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export function writeJson(path: string, value: unknown): void {
  try {
    writeFileSync(path, JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? Number(v) : v), 2) + '\n');
  } catch (e) {
    throw new SparqError('ERR_IO', `Cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export function writeText(path: string, text: string | Uint8Array): void {
  try {
    writeFileSync(path, text);
  } catch (e) {
    throw new SparqError('ERR_IO', `Cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
