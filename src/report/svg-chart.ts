// Line charts as inline SVG: the report is one self-contained file with no script or font downloads.

export interface Series {
  name: string;
  points: [number, number][];
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  logX?: boolean;
  logY?: boolean;
  width?: number;
  height?: number;
  /** Draw a dashed horizontal reference line (e.g. speedup 1.0). */
  referenceY?: number;
  /** Start a linear y axis at 0 (default true); false fits it to the data (e.g. accuracy 95-97%). */
  yFromZero?: boolean;
  /** The axis never runs past this (100 for an accuracy in %). */
  yMax?: number;
}

/** Horizontal bars, one per labelled value (e.g. speedup per runtime). */
export interface BarChartSpec {
  kind: 'bar';
  title: string;
  xLabel: string;
  bars: { label: string; value: number }[];
  /** Draw a dashed vertical reference line (e.g. speedup 1.0). */
  referenceX?: number;
  width?: number;
}

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563', '#ca8a04'];

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function niceTicks(lo: number, hi: number, count: number): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++)
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) ticks.push(v);
    }
  return ticks.length ? ticks : [lo, hi];
}

function formatTick(v: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) >= 1000 || Math.abs(v) < 0.01) return v.toExponential(0);
  return String(Number(v.toPrecision(3)));
}

/** An SVG line chart with axes, ticks, a legend and point markers. */
export function lineChart(spec: ChartSpec): string {
  const width = spec.width ?? 560;
  const height = spec.height ?? 320;
  const m = { left: 64, right: 16, top: 36, bottom: 48 };
  const legendWidth = 150;
  const plotW = width - m.left - m.right - legendWidth;
  const plotH = height - m.top - m.bottom;
  const all = spec.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (!all.length) return `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><text x="20" y="40">${escapeXml(spec.title)}: no data</text></svg>`;
  let [xmin, xmax] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  let [ymin, ymax] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  if (spec.referenceY !== undefined) [ymin, ymax] = [Math.min(ymin, spec.referenceY), Math.max(ymax, spec.referenceY)];
  if (!spec.logY) {
    if (spec.yFromZero === false) {
      // Fitted to the data with a margin on both sides, so no point sits on the frame; at least half a
      // percent of the value, so near-equal points don't spread over the whole height.
      const pad = Math.max((ymax - ymin) * 0.15, Math.abs(ymax) * 0.005, 1e-9);
      ymin -= pad;
      ymax += pad;
    } else {
      ymin = Math.min(0, ymin);
      ymax = ymax > 0 ? ymax * 1.08 : ymax;
    }
  }
  if (spec.yMax !== undefined) ymax = Math.min(ymax, Math.max(spec.yMax, ...all.map((p) => p[1])));
  if (xmax === xmin) [xmin, xmax] = [xmin - 1, xmax + 1];
  if (ymax === ymin) ymax = ymin + 1;
  const sx = (x: number) => m.left + (spec.logX ? (Math.log(x) - Math.log(xmin)) / (Math.log(xmax) - Math.log(xmin)) : (x - xmin) / (xmax - xmin)) * plotW;
  const sy = (y: number) => m.top + plotH - (spec.logY ? (Math.log(y) - Math.log(ymin)) / (Math.log(ymax) - Math.log(ymin)) : (y - ymin) / (ymax - ymin)) * plotH;
  const xt = spec.logX ? logTicks(xmin, xmax) : niceTicks(xmin, xmax, 6);
  const yt = spec.logY ? logTicks(ymin, ymax) : niceTicks(ymin, ymax, 5);
  const parts: string[] = [];
  parts.push(`<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(spec.title)}">`);
  parts.push(`<text x="${m.left}" y="20" font-size="14" font-weight="600">${escapeXml(spec.title)}</text>`);
  for (const t of yt) {
    const y = sy(t).toFixed(1);
    parts.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${y}" y2="${y}" stroke="#e5e7eb"/>`);
    parts.push(`<text x="${m.left - 6}" y="${y}" font-size="11" text-anchor="end" dominant-baseline="middle">${formatTick(t)}</text>`);
  }
  for (const t of xt) {
    const x = sx(t).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${m.top + plotH}" y2="${m.top + plotH + 4}" stroke="#374151"/>`);
    parts.push(`<text x="${x}" y="${m.top + plotH + 16}" font-size="11" text-anchor="middle">${formatTick(t)}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#374151"/>`);
  parts.push(`<text x="${m.left + plotW / 2}" y="${height - 8}" font-size="12" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${m.top + plotH / 2}) rotate(-90)" font-size="12" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`);
  if (spec.referenceY !== undefined) {
    const y = sy(spec.referenceY).toFixed(1);
    parts.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${y}" y2="${y}" stroke="#6b7280" stroke-dasharray="4 3"/>`);
  }
  spec.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!spec.logX || x > 0) && (!spec.logY || y > 0)).sort((a, b) => a[0] - b[0]);
    if (pts.length) {
      const d = pts.map(([x, y], j) => `${j ? 'L' : 'M'}${sx(x).toFixed(1)} ${sy(y).toFixed(1)}`).join(' ');
      parts.push(`<path class="series" data-series="${escapeXml(s.name)}" d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
      for (const [x, y] of pts) parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${color}"><title>${escapeXml(s.name)}: ${formatTick(x)}, ${formatTick(y)}</title></circle>`);
    }
    const ly = m.top + 8 + i * 18;
    const lx = m.left + plotW + 12;
    parts.push(`<line x1="${lx}" x2="${lx + 18}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${lx + 24}" y="${ly}" font-size="11" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** An SVG bar chart (horizontal bars with value labels); bars are path.series so the render probe sees them. */
export function barChart(spec: BarChartSpec): string {
  const bars = spec.bars.filter((b) => Number.isFinite(b.value));
  const labelW = 230;
  const plotW = (spec.width ?? 560) - labelW - 60;
  const row = 26;
  const top = 36;
  const height = top + bars.length * row + 40;
  const width = labelW + plotW + 60;
  if (!bars.length) return `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="${width}" height="80"><text x="20" y="40">${escapeXml(spec.title)}: no data</text></svg>`;
  const xmax = Math.max(...bars.map((b) => b.value), spec.referenceX ?? 0) * 1.1 || 1;
  const sx = (v: number) => labelW + (Math.max(0, v) / xmax) * plotW;
  const parts = [`<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(spec.title)}">`];
  parts.push(`<text x="8" y="20" font-size="14" font-weight="600">${escapeXml(spec.title)}</text>`);
  for (const t of niceTicks(0, xmax, 5)) {
    const x = sx(t).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${top}" y2="${top + bars.length * row}" stroke="#e5e7eb"/>`);
    parts.push(`<text x="${x}" y="${top + bars.length * row + 14}" font-size="11" text-anchor="middle">${formatTick(t)}</text>`);
  }
  bars.forEach((b, i) => {
    const y = top + i * row;
    const color = PALETTE[i % PALETTE.length];
    parts.push(`<text x="${labelW - 8}" y="${y + row / 2}" font-size="11" text-anchor="end" dominant-baseline="middle">${escapeXml(b.label)}</text>`);
    parts.push(`<path class="series" data-series="${escapeXml(b.label)}" d="M${labelW} ${y + 4} H${sx(b.value).toFixed(1)} V${y + row - 4} H${labelW} Z" fill="${color}"><title>${escapeXml(b.label)}: ${formatTick(b.value)}</title></path>`);
    parts.push(`<text x="${(sx(b.value) + 6).toFixed(1)}" y="${y + row / 2}" font-size="11" dominant-baseline="middle">${formatTick(b.value)}</text>`);
  });
  if (spec.referenceX !== undefined) {
    const x = sx(spec.referenceX).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${top - 4}" y2="${top + bars.length * row}" stroke="#6b7280" stroke-dasharray="4 3"/>`);
  }
  parts.push(`<text x="${labelW + plotW / 2}" y="${height - 6}" font-size="12" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`);
  parts.push('</svg>');
  return parts.join('');
}
