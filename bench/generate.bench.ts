// Decoding a GPT-2-shaped decoder (6 layers, d 768, 12 heads, vocab 8192, exported by PyTorch with its KV
// cache: scripts/export-gpt.py) with sparq's generate() — fp32, quantize dynamic int8, weight-only int4,
// 90% pruned + int8 — against the greedy loop users write over onnxruntime-node (the cache copied through
// JS each step: present → past), fp32, its dynamic int8 (sparq's ONNX export of the same int8 model:
// DynamicQuantizeLinear → MatMulInteger) and MatMulNBits int4. Same process, alternating rounds, one and
// two threads. Prefill and decode ms/token, ms/token over the whole call, tokens/s.
// Agreement with fp32 is measured on a small model trained on local text (its held-out next-token accuracy
// printed), the same compression recipes, over held-out windows export-gpt.py wrote beside it:
//   greedy: each variant's own greedy tokens equal to sparq fp32's, position by position (one early
//           difference makes every later position differ: the strict measure);
//   top-1:  teacher forcing: the window's text in one pass, the variant's argmax at each position after
//           the prompt equal to fp32's there (the logits' top-1 agreement).
// How many distinct tokens fp32's predictions hold is printed, so a degenerate model shows.
//   npm run bench -- generate [-- --model=path.onnx --agree-model=path.onnx --prompt=16 --new=32 --rounds=5
//                                 --threads=1,2 --group=64 --head-bits=8 --agree-only]
// Without --model / --agree-model, both are exported once into .bench-out/ (about two minutes in all).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';

import { InferenceSession, type Model, Tensor, generate, loadModel, prune, quantize } from '../src/index.js';
import { exportOnnx } from '../src/io/export-onnx.js';
import { flag, printTable } from './harness.js';
import { ortSessionOptions } from './ort.js';
import { ortGreedy } from './ort-generate.js';
import { renderReport, type ReportSection } from '../src/report/html-report.js';

const PROMPT = Number(flag('prompt') ?? 16);
const NEW = Number(flag('new') ?? 32);
const ROUNDS = Number(flag('rounds') ?? 5);
const THREADS = (flag('threads') ?? '1,2').split(',').map(Number);
const GROUP = Number(flag('group') ?? 64);
// Code width of the vocabulary projection (the MatMul writing the logits) in the int4 model: 8 by default.
const HEAD_BITS = Number(flag('head-bits') ?? 8);
// --zero-points: asymmetric int4 groups (a zero point per group) instead of symmetric ones.
const SYMMETRIC = flag('zero-points') === undefined;

/** Runs scripts/export-gpt.py into .bench-out/<name>.onnx (+ .json reference) unless it is there. */
function exported(name: string, what: string, args: string[]): string {
  const dir = join(process.cwd(), '.bench-out');
  const path = join(dir, `${name}.onnx`);
  if (existsSync(path)) return path;
  mkdirSync(dir, { recursive: true });
  console.log(`exporting ${path} with scripts/export-gpt.py (${what})...`);
  const reference = ['--reference', path.replace(/\.onnx$/, '.json'), '--prompt-len', String(PROMPT), '--new', String(NEW)];
  const r = spawnSync('/usr/bin/python3', ['scripts/export-gpt.py', '--out', path, ...reference, ...args], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('scripts/export-gpt.py failed (needs /usr/bin/python3 with torch and onnx)');
  return path;
}

/**
 * The timed model: GPT-2-shaped (6 x 768, vocab 8192), untrained (seeded init): the speed of a decode step
 * does not depend on the weights' values. The recipe is in the name: an export by another recipe is not reused.
 */
const modelPath = (): string => flag('model') ?? exported('gpt-6x768-init', 'untrained, about a minute', ['--steps', '0']);

/**
 * The model agreement is measured on: small (2 x 128, bytes as tokens) so that it trains in about a minute
 * on local text (licence prose, then Python sources; the last 1/16 held out) to predictions that are not
 * degenerate; 16 held-out windows of prompt + following text beside it.
 */
const agreeModelPath = (): string =>
  flag('agree-model') ??
  exported('gpt-2x128-text', 'trains 600 steps on local text first, about a minute', [
    ...['--layers', '2', '--d', '128', '--heads', '2', '--vocab', '256', '--corpus', 'text', '--prompts', '16'],
    ...['--steps', '600', '--train-batch', '16', '--train-seq', '64', '--lr', '3e-3', '--warmup', '30', '--schedule', 'cosine'],
  ]);

interface Run {
  totalMs: number;
  prefillMs: number;
  decodeMs: number;
  tokens: number[];
}

type Runner = (prompt: number[]) => Promise<Run>;

function sparqRunner(session: InferenceSession): Runner {
  return async (prompt) => {
    const r = await generate(session, { inputIds: prompt, maxNewTokens: NEW });
    return { totalMs: r.timings.totalMs, prefillMs: r.timings.prefillMs, decodeMs: r.timings.msPerToken, tokens: r.tokens[0] };
  };
}

/** onnxruntime-node's greedy loop (bench/ort-generate.ts) over an export. */
async function ortRunner(bytes: Uint8Array, threads: number, heads: number, headDim: number): Promise<[Runner, Scorer]> {
  const s = await ort.InferenceSession.create(bytes, ortSessionOptions(threads));
  const run: Runner = async (prompt) => {
    const r = await ortGreedy(s, prompt, NEW, heads, headDim);
    return { totalMs: r.totalMs, prefillMs: r.prefillMs, decodeMs: (r.totalMs - r.prefillMs) / (NEW - 1), tokens: r.tokens };
  };
  return [run, ortScorer(s, heads, headDim)];
}

/** The argmax of each position's logits when `ids` run in one pass from an empty cache (teacher forcing). */
type Scorer = (ids: number[]) => Promise<number[]>;

function argmaxRows(logits: Float32Array, rows: number, vocab: number): number[] {
  return Array.from({ length: rows }, (_, t) => {
    let best = 0;
    for (let v = 1; v < vocab; v++) if (logits[t * vocab + v] > logits[t * vocab + best]) best = v;
    return best;
  });
}

const int64 = (n: number, f: (j: number) => number) => BigInt64Array.from({ length: n }, (_, j) => BigInt(f(j)));

function sparqScorer(s: InferenceSession, pasts: string[], heads: number, headDim: number): Scorer {
  return async (ids) => {
    const T = ids.length;
    const feeds: Record<string, Tensor> = {
      input_ids: new Tensor('int64', int64(T, (j) => ids[j]), [1, T]),
      attention_mask: new Tensor('int64', int64(T, () => 1), [1, T]),
      position_ids: new Tensor('int64', int64(T, (j) => j), [1, T]),
    };
    for (const p of pasts) feeds[p] = new Tensor('float32', new Float32Array(0), [1, heads, 0, headDim]);
    const { logits } = await s.run(feeds, ['logits']);
    return argmaxRows(logits.data as Float32Array, T, logits.dims[2]);
  };
}

function ortScorer(s: ort.InferenceSession, heads: number, headDim: number): Scorer {
  return async (ids) => {
    const T = ids.length;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', int64(T, (j) => ids[j]), [1, T]),
      attention_mask: new ort.Tensor('int64', int64(T, () => 1), [1, T]),
      position_ids: new ort.Tensor('int64', int64(T, (j) => j), [1, T]),
    };
    for (const p of s.inputNames.filter((n) => n.startsWith('past_key_values.'))) feeds[p] = new ort.Tensor('float32', new Float32Array(0), [1, heads, 0, headDim]);
    const { logits } = await s.run(feeds, ['logits']);
    return argmaxRows(logits.data as Float32Array, T, logits.dims[2]);
  };
}

interface Agreement {
  greedy: number;
  top1: number;
}

/**
 * Agreement of every engine with sparq fp32 over held-out `windows` (prompt + the text that follows it):
 * greedy (own greedy tokens after the prompt equal to fp32's, position by position) and top-1 (the whole
 * window in one pass, the argmax at each position after the prompt equal to fp32's). Without the text
 * (a window of the prompt alone), top-1 runs over the prompt + fp32's greedy tokens. Also how varied fp32's
 * predictions are: distinct greedy tokens per prompt (mean), distinct top-1 tokens over all windows.
 */
async function agreement(runners: Map<string, Runner>, scorers: Map<string, Scorer>, windows: number[][]) {
  const greedy = new Map<string, number>();
  const top1 = new Map<string, number>();
  const topTokens = new Set<number>();
  let distinct = 0;
  const n = windows.length;
  for (const window of windows) {
    const prompt = window.slice(0, PROMPT);
    const ref = (await runners.get('sparq fp32')!(prompt)).tokens;
    distinct += new Set(ref).size / n;
    // Position PROMPT - 1 + i predicts the token after the prompt's i-th follower.
    const forced = window.length >= PROMPT + NEW - 1 ? window.slice(0, PROMPT + NEW - 1) : [...prompt, ...ref.slice(0, -1)];
    const top = (await scorers.get('sparq fp32')!(forced)).slice(PROMPT - 1);
    for (const t of top) topTokens.add(t);
    for (const [k, run] of runners) {
      const own = (await run(prompt)).tokens;
      greedy.set(k, (greedy.get(k) ?? 0) + own.filter((t, i) => t === ref[i]).length / (ref.length * n));
      const theirs = (await scorers.get(k)!(forced)).slice(PROMPT - 1);
      top1.set(k, (top1.get(k) ?? 0) + theirs.filter((t, i) => t === top[i]).length / (top.length * n));
    }
  }
  const agree = new Map<string, Agreement>([...runners.keys()].map((k) => [k, { greedy: greedy.get(k)!, top1: top1.get(k)! }]));
  return { agree, distinct, topDistinct: topTokens.size };
}

/**
 * Weight-only int4 at group GROUP, the vocabulary projection (the weight of the MatMul that writes the
 * logits) at HEAD_BITS: its errors move the logits straight, and it is the one layer whose top-1 flips
 * when int4 (measured: 93% top-1 agreement at group 32 all int4, 99.6% with it at 8 bits).
 */
async function weightOnly4(m: Model): Promise<Model> {
  const init = m.graph.initializers;
  const head = m.graph.nodes.find((n) => n.op === 'MatMul' && n.outputs.includes('logits'))?.inputs.find((i) => init.has(i));
  if (!head || HEAD_BITS === 4) return quantize(m, { mode: 'weight-only', bits: 4, groupSize: GROUP, symmetric: SYMMETRIC });
  const body = await quantize(m, { mode: 'weight-only', bits: 4, groupSize: GROUP, symmetric: SYMMETRIC, exclude: [head] });
  return quantize(body, { mode: 'weight-only', bits: 8, groupSize: GROUP, include: [head] });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Reference {
  input_ids: number[][];
  prompts?: number[][];
  windows?: number[][];
  held_out?: { loss: number; accuracy: number };
}

const readReference = (path: string): Reference | undefined => {
  const refPath = path.replace(/\.onnx$/, '.json');
  return existsSync(refPath) ? (JSON.parse(readFileSync(refPath, 'utf8')) as Reference) : undefined;
};

/** heads, headDim and the past input names of a decoder with past. */
function cacheShape(m: Model): { heads: number; headDim: number; pasts: string[] } {
  const past = m.inputs.find((i) => i.name === 'past_key_values.0.key')?.dims ?? [];
  return { heads: Number(past[1] ?? 12), headDim: Number(past[3] ?? 64), pasts: m.inputs.map((i) => i.name).filter((n) => n.startsWith('past_key_values.')) };
}

/** The compressed variants every table covers, and their ONNX exports for onnxruntime-node. */
async function variants(fp32: Model): Promise<{ models: [string, Model][]; ortModels: [string, Uint8Array][] }> {
  const int8 = await quantize(fp32, { mode: 'dynamic' });
  const int4 = await weightOnly4(fp32);
  const sparse = await quantize(await prune(fp32, { sparsity: 0.9, minParams: 0 }), { mode: 'dynamic' });
  return {
    models: [['fp32', fp32], ['int8', int8], ['int4', int4], ['sparse90+int8', sparse]],
    ortModels: [['fp32', fp32.toOnnx()], ['int8', exportOnnx(int8)], ['int4', exportOnnx(int4)]],
  };
}

/** Runners (and scorers) of every variant, sparq's sessions to release after. */
async function engines(fp32: Model, threads: number) {
  const { models, ortModels } = await variants(fp32);
  const { heads, headDim, pasts } = cacheShape(fp32);
  const runners = new Map<string, Runner>();
  const scorers = new Map<string, Scorer>();
  const sessions: InferenceSession[] = [];
  for (const [name, m] of models) {
    const s = await InferenceSession.create(m, { threads });
    sessions.push(s);
    runners.set(`sparq ${name}`, sparqRunner(s));
    scorers.set(`sparq ${name}`, sparqScorer(s, pasts, heads, headDim));
  }
  for (const [name, bytes] of ortModels) {
    const [run, score] = await ortRunner(bytes, threads, heads, headDim);
    runners.set(`ORT ${name}`, run);
    scorers.set(`ORT ${name}`, score);
  }
  return { runners, scorers, sessions };
}

/** Speed on the GPT-2-shaped model: one table per thread count. */
/** What the HTML report shows: each thread count's timing rows, then the agreement rows. */
const reportSections: ReportSection[] = [];
const speeds = new Map<string, [number, number][]>();

async function timing(): Promise<void> {
  const path = modelPath();
  const fp32 = await loadModel(path);
  // The prompt export-gpt.py drew from its data (beside the model as .json), else a fixed one.
  const fromRef = readReference(path)?.input_ids[0] ?? [];
  const prompt = fromRef.length === PROMPT ? fromRef : Array.from({ length: PROMPT }, (_, i) => (i * 37 + 11) % 512);
  for (const threads of THREADS) {
    const { runners, sessions } = await engines(fp32, threads);
    const runs = new Map<string, Run[]>([...runners.keys()].map((k) => [k, []]));
    // Alternating rounds after one unmeasured warm-up each (plans compiled, pages touched).
    for (const r of runners.values()) await r(prompt);
    for (let round = 0; round < ROUNDS; round++) for (const [k, r] of runners) runs.get(k)!.push(await r(prompt));
    const ortInt8 = median(runs.get('ORT int8')!.map((r) => r.totalMs / NEW));
    const ortFp32 = median(runs.get('ORT fp32')!.map((r) => r.totalMs / NEW));
    const rows = [...runs].map(([k, rs]) => {
      const perToken = median(rs.map((r) => r.totalMs / NEW));
      return [k, median(rs.map((r) => r.prefillMs)), median(rs.map((r) => r.decodeMs)), perToken, 1000 / perToken, ortFp32 / perToken, ortInt8 / perToken];
    });
    printTable(
      `generate, ${path.split('/').pop()}, prompt ${PROMPT} + ${NEW} new, batch 1, ${threads} thread(s), median of ${ROUNDS} alternating rounds; ms/token = whole call / new tokens; ` +
        `ORT = greedy loop over onnxruntime-node with the cache copied through JS; int4 = weight-only group ${GROUP}, lm head ${HEAD_BITS}-bit`,
      ['engine', 'prefill ms', 'decode ms/token', 'ms/token', 'tokens/s', 'vs ORT fp32', 'vs ORT int8'],
      rows,
    );
    for (const [engine, , , perToken] of rows) speeds.set(engine as string, [...(speeds.get(engine as string) ?? []), [threads, perToken as number]]);
    reportSections.push({
      title: `${threads} thread(s)`,
      table: { columns: ['engine', 'prefill ms', 'decode ms/token', 'ms/token', 'tokens/s', 'vs ORT fp32', 'vs ORT int8'], rows: rows as (string | number)[][] },
      charts: [{ kind: 'bar', title: `${threads} thread(s): speed vs the onnxruntime-node int8 loop (ms/token over the whole call)`, xLabel: 'x ORT int8', bars: rows.map((r) => ({ label: r[0] as string, value: r[6] as number })), referenceX: 1 }],
    });
    for (const s of sessions) await s.release();
  }
}

/** Agreement with fp32 on the small trained model, its held-out text (same compression recipes as timed). */
async function agreements(): Promise<void> {
  const path = agreeModelPath();
  const ref = readReference(path);
  const windows = (ref?.windows ?? ref?.prompts ?? []).filter((w) => w.length >= PROMPT);
  if (!windows.length) throw new Error(`Expected held-out windows for ${path} but received none (export it with scripts/export-gpt.py --prompts N)`);
  const { runners, scorers, sessions } = await engines(await loadModel(path), 1);
  const agreed = await agreement(runners, scorers, windows);
  const accuracy = ref?.held_out ? `, held-out next-token accuracy ${ref.held_out.accuracy.toFixed(3)} (loss ${ref.held_out.loss.toFixed(3)})` : '';
  printTable(
    `agreement with sparq fp32 on ${path.split('/').pop()}${accuracy}, over ${windows.length} held-out windows of prompt ${PROMPT} + ${NEW}: ` +
      `greedy = own greedy tokens after the prompt equal to fp32's, position by position (fp32's: ${agreed.distinct.toFixed(1)} distinct of ${NEW} per prompt); ` +
      `top-1 = argmax at each of the ${NEW} positions after the prompt equal to fp32's with the ${ref?.windows ? 'held-out text' : "fp32's greedy tokens"} fed in one pass ` +
      `(fp32's: ${agreed.topDistinct} distinct tokens)`,
    ['engine', 'greedy agree', 'top-1 agree'],
    [...agreed.agree].map(([k, a]) => [k, a.greedy, a.top1]),
  );
  reportSections.push({
    title: 'Agreement with sparq fp32',
    text: `${path.split('/').pop()}${accuracy}; ${windows.length} held-out windows. greedy: own greedy tokens equal to fp32's, position by position; top-1: argmax equal to fp32's with the text fed in one pass.`,
    table: { columns: ['engine', 'greedy agree', 'top-1 agree'], rows: [...agreed.agree].map(([k, a]) => [k, a.greedy, a.top1]) },
  });
  for (const s of sessions) await s.release();
}

if (!process.argv.includes('--agree-only')) await timing();
await agreements();

// The report: ms/token by thread count per engine, each thread count's speed-ups, the agreement table.
const out = flag('out') ?? '.bench-out';
mkdirSync(out, { recursive: true });
const host = `${cpus()[0]?.model ?? 'unknown cpu'}, ${availableParallelism()} cores, cpu family ${/cpu family\s*:\s*(\d+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '?'}`;
if (speeds.size > 0)
  reportSections.unshift({
    title: 'ms/token by threads',
    text: `Prompt ${PROMPT} + ${NEW} new tokens, batch 1, median of ${ROUNDS} alternating rounds; the onnxruntime-node loop copies the cache through JS each step.`,
    charts: [{ title: 'ms/token over the whole call', xLabel: 'threads', yLabel: 'ms/token', logY: true, series: [...speeds].map(([name, points]) => ({ name, points })) }],
  });
writeFileSync(join(out, 'generate-bench.html'), renderReport({ title: 'generate(): sparq vs the onnxruntime-node loop', generatedAt: new Date().toISOString(), environment: { host, node: process.version, prompt: PROMPT, new_tokens: NEW, rounds: ROUNDS, int4_group: GROUP, head_bits: HEAD_BITS }, sections: reportSections }));
console.log(`wrote ${join(out, 'generate-bench.html')}`);
