// The HTML report: one self-contained file (inline CSS and SVG, no network), written by `sparq demo`
// and `sparq bench --html`. Its JSON twin is the same ReportData.
import { renderHeatmap, type Heatmap } from './heatmap.js';
import { barChart, escapeXml, lineChart, type BarChartSpec, type ChartSpec } from './svg-chart.js';

export interface ReportTable {
  columns: string[];
  rows: (string | number)[][];
}

export interface ReportSection {
  title: string;
  text?: string;
  table?: ReportTable;
  charts?: (ChartSpec | BarChartSpec)[];
  /** Attribution figures (image heat maps, token bars). */
  heatmaps?: Heatmap[];
}

function chart(spec: ChartSpec | BarChartSpec): string {
  return 'kind' in spec && spec.kind === 'bar' ? barChart(spec) : lineChart(spec as ChartSpec);
}

export interface ReportData {
  title: string;
  generatedAt: string;
  environment: Record<string, string | number | boolean>;
  summary?: string[];
  sections: ReportSection[];
}

function cell(v: string | number): string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    const a = Math.abs(v);
    return a >= 1000 ? v.toFixed(0) : a >= 100 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toPrecision(3);
  }
  return escapeXml(v);
}

function table(t: ReportTable): string {
  const head = t.columns.map((c) => `<th>${escapeXml(c)}</th>`).join('');
  const body = t.rows.map((r) => `<tr>${r.map((v) => `<td${typeof v === 'number' ? ' class="num"' : ''}>${cell(v)}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

// After layout, record each chart's drawn size on the page itself (data-drawn), so a headless browser
// test can check the charts really rendered, not just that the markup exists.
const RENDER_PROBE = `<script>
window.addEventListener('load', () => {
  const charts = [...document.querySelectorAll('svg.chart')];
  let drawn = 0;
  for (const svg of charts) {
    const paths = [...svg.querySelectorAll('path.series')];
    const ok = paths.length > 0 && paths.every((p) => { const b = p.getBBox(); return b.width > 0 || b.height > 0; });
    svg.setAttribute('data-drawn', ok ? 'yes' : 'no');
    if (ok) drawn++;
  }
  document.body.setAttribute('data-charts', charts.length + '/' + drawn);
  const maps = [...document.querySelectorAll('svg.heatmap')];
  const mapsDrawn = maps.filter((svg) => { const c = svg.querySelector('.cell'); if (!c) return false; const b = c.getBBox(); return b.width > 0 && b.height > 0; }).length;
  document.body.setAttribute('data-heatmaps', maps.length + '/' + mapsDrawn);
});
</script>`;

export function renderReport(report: ReportData): string {
  const env = Object.entries(report.environment)
    .map(([k, v]) => `<tr><th>${escapeXml(k)}</th><td>${escapeXml(String(v))}</td></tr>`)
    .join('');
  const summary = report.summary?.length ? `<ul class="summary">${report.summary.map((s) => `<li>${escapeXml(s)}</li>`).join('')}</ul>` : '';
  const sections = report.sections
    .map(
      (s) => `<section><h2>${escapeXml(s.title)}</h2>
${s.text ? `<p>${escapeXml(s.text)}</p>` : ''}
${s.charts?.length ? `<div class="charts">${s.charts.map(chart).join('\n')}</div>` : ''}
${s.heatmaps?.length ? `<div class="charts">${s.heatmaps.map(renderHeatmap).join('\n')}</div>` : ''}
${s.table ? table(s.table) : ''}
</section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeXml(report.title)}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; color: #111827; margin: 24px auto; max-width: 1180px; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #e5e7eb; padding-bottom: 4px; }
.meta { color: #6b7280; } .summary li { margin: 2px 0; }
table { border-collapse: collapse; margin: 8px 0; } th, td { border: 1px solid #e5e7eb; padding: 4px 8px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } thead th { background: #f9fafb; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; } svg.chart, svg.heatmap { background: #fff; border: 1px solid #f3f4f6; }
</style></head>
<body>
<h1>${escapeXml(report.title)}</h1>
<div class="meta">generated ${escapeXml(report.generatedAt)}</div>
${summary}
<h2>Environment</h2><table class="env">${env}</table>
${sections}
${RENDER_PROBE}
</body></html>
`;
}
