// sparq explain <model> --input x.npy: which inputs made the model give its output — integrated gradients
// (default), saliency or occlusion — printed as the strongest features and written as a heat map in the
// report's style (an image for 28x28 / HxW inputs, bars per token for sequences).
import type { ExplainMethod, ExplainOptions } from '../../explain/explain.js';
import { loadModel } from '../../io/model-file.js';
import { renderReport } from '../../report/html-report.js';
import { heatmapFor } from '../../report/heatmap.js';
import type { Tensor } from '../../tensor.js';
import { existingFile, intList, oneOf, positiveInt, str, UsageError, type Command } from '../args.js';
import { textTable, writeJson, writeText } from '../output.js';
import { encodeNpy, readTensorFile } from '../tensor-files.js';
import { environment } from './bench.js';

const METHOD_ALIASES: Record<string, ExplainMethod> = { ig: 'integrated-gradients', 'integrated-gradients': 'integrated-gradients', saliency: 'saliency', occlusion: 'occlusion' };

export const explainCommand: Command = {
  name: 'explain',
  summary: 'Explain one output of a model: attributions per input value (integrated gradients, saliency, occlusion), as a heat map.',
  usage: 'sparq explain <model> --input <x.npy|name=file> [--target N] [--method ig|saliency|occlusion] [--steps 50] [--baseline V] [--window 4,4] [--html out.html] [--json out.json] [--npy out.npy]',
  help: [
    '  --input file       the example (batch 1): a .npy/.json file for the model\'s first input, or name=file (repeatable)',
    '  --target N         the class index of the first output to explain (default: the predicted one)',
    '  --output NAME      explain output NAME instead of the first (with --target as the flat index in it)',
    '  --method M         ig (integrated gradients, default), saliency, or occlusion (any model, token ids included)',
    '  --steps N          integrated gradients: path points (default 50)',
    '  --baseline V       the reference value (ig) or the value / token id put in occluded places (default 0)',
    '  --window a,b       occlusion: window extent per dim (default ~1/7 of each spatial dim, 1 per token)',
    '  --strides a,b      occlusion: window step per dim (default half the window)',
    '  --html <file>      write the heat map as a self-contained HTML report',
    '  --json <file>      write the attributions and figures as JSON',
    '  --npy <file>       write the attributions of the (first) explained input as .npy',
  ],
  options: {
    input: { type: 'string', multiple: true, short: 'i' },
    target: { type: 'string' },
    output: { type: 'string' },
    method: { type: 'string' },
    steps: { type: 'string' },
    baseline: { type: 'string' },
    window: { type: 'string' },
    strides: { type: 'string' },
    threads: { type: 'string' },
    html: { type: 'string' },
    json: { type: 'string' },
    npy: { type: 'string' },
  },
  async run({ values, positionals }) {
    const path = existingFile(positionals[0], '<model>');
    const method = METHOD_ALIASES[oneOf(str(values, 'method'), '--method', Object.keys(METHOD_ALIASES), 'ig') as string];
    const model = await loadModel(path);
    const specs = (values.input as string[] | undefined) ?? [];
    if (specs.length === 0) throw new UsageError('Expected --input <file> (see sparq explain --help)');
    const feeds: Record<string, Tensor> = {};
    for (const spec of specs) {
      const eq = spec.indexOf('=');
      const name = eq > 0 ? spec.slice(0, eq) : model.inputs[0].name;
      feeds[name] = readTensorFile(existingFile(eq > 0 ? spec.slice(eq + 1) : spec, `--input ${name}`), `--input ${name}`);
    }
    const baselineText = str(values, 'baseline');
    const baseline = baselineText === undefined ? undefined : Number(baselineText);
    if (baseline !== undefined && !Number.isFinite(baseline)) throw new UsageError(`Expected a number for --baseline but received ${JSON.stringify(baselineText)}`);
    const targetText = str(values, 'target');
    const outputName = str(values, 'output');
    if (targetText !== undefined && !/^\s*\d+\s*$/.test(targetText)) throw new UsageError(`Expected a non-negative integer for --target but received ${JSON.stringify(targetText)}`);
    const index = targetText === undefined ? undefined : Number(targetText);
    if (outputName !== undefined && index === undefined) throw new UsageError('Expected --target N with --output (the flat index in that output)');
    const opts: ExplainOptions = {
      method,
      target: index === undefined ? undefined : outputName ? { output: outputName, index } : index,
      steps: values.steps === undefined ? undefined : positiveInt(str(values, 'steps'), '--steps'),
      baseline,
      window: values.window === undefined ? undefined : intList(str(values, 'window'), '--window', []),
      strides: values.strides === undefined ? undefined : intList(str(values, 'strides'), '--strides', []),
      threads: values.threads === undefined ? undefined : positiveInt(str(values, 'threads'), '--threads'),
    };
    // src/explain loads only for this command.
    const { explain } = await import('../../explain/explain.js');
    const e = await explain(model, feeds, opts);
    const out = process.stdout;
    out.write(`${method} for output "${e.target.output}" index ${e.target.index}: value ${e.value.toPrecision(5)}${e.delta !== null ? `, completeness gap ${e.delta.toPrecision(3)}` : ''}\n`);
    for (const [name, t] of Object.entries(e.attributions)) {
      const top = Array.from(t.data, (v, i) => [i, v] as [number, number]).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).slice(0, 10);
      out.write(`\n${name}: strongest of ${t.size} values\n${textTable(['index', 'attribution'], top)}\n`);
    }
    const figures = Object.entries(e.attributions).map(([name, t]) => heatmapFor(`${name}: ${method}, ${e.target.output}[${e.target.index}]`, t.data, t.dims, feeds[name] as never));
    const html = str(values, 'html');
    if (html) {
      const sum = Object.values(e.attributions).reduce((s, t) => s + t.data.reduce((a, v) => a + v, 0), 0);
      writeText(
        html,
        renderReport({
          title: `sparq explain: ${path}`,
          generatedAt: new Date().toISOString(),
          environment: environment(),
          summary: [`method ${method}; target ${e.target.output}[${e.target.index}] = ${e.value.toPrecision(5)}; sum of attributions ${sum.toPrecision(5)}${e.delta !== null ? `; completeness gap ${e.delta.toPrecision(3)}` : ''}`],
          sections: [{ title: 'Attributions', text: 'Red: evidence for the target output; blue: against. Colors scale to the largest |attribution| of each figure.', heatmaps: figures }],
        }),
      );
      out.write(`wrote ${html}\n`);
    }
    const json = str(values, 'json');
    if (json) writeJson(json, { method, target: e.target, value: e.value, delta: e.delta, attributions: Object.fromEntries(Object.entries(e.attributions).map(([k, t]) => [k, { dims: t.dims, data: Array.from(t.data) }])) });
    const npy = str(values, 'npy');
    if (npy) writeText(npy, encodeNpy(Object.values(e.attributions)[0]));
    return 0;
  },
};
