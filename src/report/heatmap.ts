// Attribution figures as inline SVG for the report: a heat map over an image (the input in grey beside
// its attributions, red for evidence for the target, blue against) and bars per token for sequences.
// Colors scale by the largest |attribution| of the figure, so one figure's colors compare within it.
import { escapeXml } from './svg-chart.js';

export interface ImageHeatmap {
  kind: 'image';
  title: string;
  height: number;
  width: number;
  /** Attributions, row-major [height, width] (a channel dim summed beforehand). */
  values: ArrayLike<number>;
  /** The input, row-major [height, width], drawn in grey beside the heat map. */
  image?: ArrayLike<number>;
  /** Pixel size of one cell (default: the figure is about 168 px wide). */
  cell?: number;
}

export interface TokenBars {
  kind: 'tokens';
  title: string;
  /** One label per token (e.g. the token or its id). */
  labels: string[];
  values: ArrayLike<number>;
}

export type Heatmap = ImageHeatmap | TokenBars;

/** Diverging red (positive) / white / blue (negative) for v in [-1, 1]. */
export function divergingColor(v: number): string {
  const t = Math.max(-1, Math.min(1, Number.isFinite(v) ? v : 0));
  const to = t >= 0 ? [220, 38, 38] : [37, 99, 235];
  const a = Math.abs(t);
  const c = to.map((x) => Math.round(255 + (x - 255) * a));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) m = Math.max(m, Math.abs(values[i]));
  return m || 1;
}

function imageCells(h: number, w: number, cell: number, x0: number, y0: number, color: (i: number) => string, cls: string): string {
  const parts: string[] = [];
  for (let r = 0; r < h; r++)
    for (let c = 0; c < w; c++) parts.push(`<rect class="${cls}" x="${x0 + c * cell}" y="${y0 + r * cell}" width="${cell}" height="${cell}" fill="${color(r * w + c)}"/>`);
  return parts.join('');
}

function imageHeatmap(spec: ImageHeatmap): string {
  const { height: h, width: w } = spec;
  const cell = spec.cell ?? Math.max(2, Math.floor(168 / Math.max(h, w)));
  const gap = 12;
  const top = 24;
  const panels = spec.image ? 2 : 1;
  const width = panels * w * cell + (panels - 1) * gap + 8;
  const height = top + h * cell + 22;
  const scale = maxAbs(spec.values);
  const parts = [`<svg class="heatmap" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(spec.title)}">`];
  parts.push(`<text x="4" y="15" font-size="12" font-weight="600">${escapeXml(spec.title)}</text>`);
  let x0 = 4;
  if (spec.image) {
    const img = spec.image;
    const hi = maxAbs(img);
    parts.push(imageCells(h, w, cell, x0, top, (i) => {
      const g = Math.round(255 - 255 * Math.max(0, Math.min(1, img[i] / hi)));
      return `rgb(${g},${g},${g})`;
    }, 'pixel'));
    x0 += w * cell + gap;
  }
  parts.push(imageCells(h, w, cell, x0, top, (i) => divergingColor(spec.values[i] / scale), 'cell'));
  parts.push(`<text x="4" y="${height - 6}" font-size="10" fill="#6b7280">red: for the target, blue: against; max |attribution| ${Number(scale.toPrecision(3))}</text>`);
  parts.push('</svg>');
  return parts.join('');
}

function tokenBars(spec: TokenBars): string {
  const n = spec.values.length;
  const row = 16;
  const labelW = 110;
  const barW = 260;
  const top = 24;
  const width = labelW + 2 * barW + 80;
  const height = top + n * row + 10;
  const scale = maxAbs(spec.values);
  const mid = labelW + barW;
  const parts = [`<svg class="heatmap" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(spec.title)}">`];
  parts.push(`<text x="4" y="15" font-size="12" font-weight="600">${escapeXml(spec.title)}</text>`);
  parts.push(`<line x1="${mid}" x2="${mid}" y1="${top - 2}" y2="${top + n * row}" stroke="#9ca3af"/>`);
  for (let i = 0; i < n; i++) {
    const v = Number.isFinite(spec.values[i]) ? spec.values[i] : 0;
    const len = Math.max(1, (Math.abs(v) / scale) * barW);
    const y = top + i * row;
    const x = v >= 0 ? mid : mid - len;
    parts.push(`<text x="${labelW - 6}" y="${y + row / 2}" font-size="11" text-anchor="end" dominant-baseline="middle">${escapeXml(spec.labels[i] ?? String(i))}</text>`);
    parts.push(`<rect class="cell" x="${x.toFixed(1)}" y="${y + 2}" width="${len.toFixed(1)}" height="${row - 4}" fill="${divergingColor(v / scale)}"><title>${escapeXml(spec.labels[i] ?? String(i))}: ${Number(v.toPrecision(4))}</title></rect>`);
    parts.push(`<text x="${mid + (v >= 0 ? len + 4 : 4)}" y="${y + row / 2}" font-size="10" dominant-baseline="middle" fill="#6b7280">${Number(v.toPrecision(3))}</text>`);
  }
  parts.push('</svg>');
  return parts.join('');
}

export function renderHeatmap(spec: Heatmap): string {
  return spec.kind === 'image' ? imageHeatmap(spec) : tokenBars(spec);
}

/**
 * The figure that fits an input: an image heat map for [H, W], [C, H, W] (channels summed) or a flat
 * square vector of floats (784 = 28x28); bars per position otherwise (token ids, feature vectors; the
 * first 256). `dims` are the input's dims with the batch dim.
 */
export function heatmapFor(title: string, values: ArrayLike<number>, dims: readonly number[], input?: { type: string; data: ArrayLike<number | bigint> }): Heatmap {
  const per = dims.slice(1);
  const isFloat = input === undefined || input.type === 'float32';
  const side = per.length === 1 ? Math.sqrt(per[0]) : 0;
  let hw: [number, number] | undefined;
  if (isFloat && per.length === 2) hw = [per[0], per[1]];
  else if (isFloat && per.length === 3 && per[0] <= 4) hw = [per[1], per[2]];
  else if (isFloat && per.length === 1 && per[0] >= 64 && Number.isInteger(side)) hw = [side, side];
  if (hw) {
    const [h, w] = hw;
    const plane = h * w;
    const channels = values.length / plane;
    const sum = new Float64Array(plane);
    const img = input ? new Float64Array(plane) : undefined;
    for (let c = 0; c < channels; c++)
      for (let i = 0; i < plane; i++) {
        sum[i] += values[c * plane + i];
        if (img && input) img[i] += Number(input.data[c * plane + i]) / channels;
      }
    return { kind: 'image', title, height: h, width: w, values: sum, image: img };
  }
  const n = Math.min(values.length, 256);
  const labels = Array.from({ length: n }, (_, i) => (input && !isFloat ? `${i}: ${String(input.data[i])}` : String(i)));
  return { kind: 'tokens', title: values.length > n ? `${title} (first ${n} of ${values.length})` : title, labels, values: Array.from({ length: n }, (_, i) => values[i]) };
}
