import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { renderReport, type ReportData } from '../src/report/html-report.js';
import { barChart, lineChart } from '../src/report/svg-chart.js';

const sample: ReportData = {
  title: 'sparq test report <&>',
  generatedAt: '2026-11-29T00:00:00Z',
  environment: { cpu: 'test', threads: 2 },
  summary: ['one line'],
  sections: [
    {
      title: 'Latency',
      charts: [
        { title: 'latency vs batch', xLabel: 'batch', yLabel: 'ms', logX: true, series: [{ name: 'sparq', points: [[1, 1], [8, 5], [32, 18]] }, { name: 'ORT', points: [[1, 2], [8, 9], [32, 30]] }] },
        { title: 'speedup vs sparsity', xLabel: 'sparsity %', yLabel: 'x', referenceY: 1, series: [{ name: 'sparse', points: [[50, 0.8], [90, 3.1]] }] },
      ],
      table: { columns: ['a', 'b'], rows: [['x', 1.2345], ['y', 1234.5]] },
    },
  ],
};

function findChromium(): string | undefined {
  for (const bin of ['chromium', 'chromium-browser', 'google-chrome']) {
    if (spawnSync(bin, ['--version'], { stdio: 'ignore' }).status === 0) return bin;
  }
  return undefined;
}
const chromium = findChromium();

describe('HTML report', () => {
  it('is one self-contained file with escaped text and SVG charts', () => {
    const html = renderReport(sample);
    expect(html).toContain('sparq test report &lt;&amp;&gt;');
    expect(html.match(/<svg class="chart"/g)?.length).toBe(2);
    expect(html).not.toMatch(/(src|href)="https?:/);
    expect(html).toContain('1235');
  });

  it('fits an accuracy axis to the data, never past 100%, with no point on the frame', () => {
    const svg = lineChart({ title: 'acc', xLabel: 'x', yLabel: 'acc %', yFromZero: false, yMax: 100, series: [{ name: 'a', points: [[1, 99.4], [5, 99.9], [9, 99.9]] }] });
    const ticks = [...svg.matchAll(/text-anchor="end" dominant-baseline="middle">([\d.]+)</g)].map((m) => Number(m[1]));
    expect(Math.max(...ticks)).toBeLessThanOrEqual(100);
    expect(Math.min(...ticks)).toBeGreaterThan(98);
    // The plot spans y 36 (top) to 272 (bottom): every point strictly inside.
    for (const m of svg.matchAll(/<circle cx="[\d.]+" cy="([\d.]+)"/g)) {
      expect(Number(m[1])).toBeGreaterThan(36);
      expect(Number(m[1])).toBeLessThan(272);
    }
  });

  it('draws bar charts with one series path per bar', () => {
    const svg = barChart({ kind: 'bar', title: 'speedup', xLabel: 'x', referenceX: 1, bars: [{ label: 'a', value: 1 }, { label: 'b', value: 5.5 }] });
    expect(svg.match(/<path class="series"/g)).toHaveLength(2);
  });

  it('draws a chart with no data as a message, not a crash', () => {
    expect(lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [] })).toContain('no data');
  });

  it.skipIf(!chromium)('renders its charts in headless Chromium', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sparq-report-'));
    const file = join(dir, 'report.html');
    writeFileSync(file, renderReport(sample));
    const r = spawnSync(
      chromium as string,
      ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${join(dir, 'profile')}`, '--virtual-time-budget=2000', '--dump-dom', `file://${file}`],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/data-charts="2\/2"/);
    expect(r.stdout.match(/data-drawn="yes"/g)?.length).toBe(2);
  });
});
// CI points this at the report `sparq demo` wrote, so the real report is checked the same way.
const demoReport = process.env.SPARQ_DEMO_REPORT;
describe.skipIf(!demoReport || !chromium)('the demo report', () => {
  it('renders every chart in headless Chromium', () => {
    const html = readFileSync(demoReport as string, 'utf8');
    const charts = html.match(/<svg class="chart"/g)?.length ?? 0;
    expect(charts).toBeGreaterThanOrEqual(3);
    const r = spawnSync(
      chromium as string,
      ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${mkdtempSync(join(tmpdir(), 'sparq-chromium-'))}`, '--virtual-time-budget=2000', '--dump-dom', `file://${demoReport}`],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`data-charts="${charts}/${charts}"`);
    // The digit attributions panel: every heat map drawn.
    const maps = html.match(/<svg class="heatmap"/g)?.length ?? 0;
    expect(r.stdout).toContain(`data-heatmaps="${maps}/${maps}"`);
  });
});

if (!chromium) console.warn('report.test.ts: Chromium not found (apt-get install chromium); the rendering test is skipped');
