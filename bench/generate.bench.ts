// Decoding a GPT-2-shaped decoder (6 layers, d 768, 12 heads, vocab 8192, exported by PyTorch with its KV
// cache: scripts/export-gpt.py) with sparq's generate() — fp32, quantize dynamic int8, weight-only int4,
// 90% pruned + int8 — against the greedy loop users write over onnxruntime-node (the cache copied through
// JS each step: present → past), fp32, its dynamic int8 (sparq's ONNX export of the same int8 model:
// DynamicQuantizeLinear → MatMulInteger) and MatMulNBits int4. Same process, alternating rounds, one and
// two threads. Prefill and decode ms/token, ms/token over the whole call, tokens/s, and how many greedy
// tokens each variant shares with fp32.
//   npm run bench -- generate [-- --model=path.onnx --prompt=16 --new=32 --rounds=5 --threads=1,2 --group=32]
// Without --model, the model is exported once into .bench-out/ (trained briefly on token chains so its
// predictions are not degenerate; several minutes on a small VM).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';

import { InferenceSession, type Model, generate, loadModel, prune, quantize } from '../src/index.js';
import { exportOnnx } from '../src/io/export-onnx.js';
import { flag, printTable } from './harness.js';
import { ortSessionOptions } from './ort.js';
import { ortGreedy } from './ort-generate.js';

const PROMPT = Number(flag('prompt') ?? 16);
const NEW = Number(flag('new') ?? 32);
const ROUNDS = Number(flag('rounds') ?? 5);
const THREADS = (flag('threads') ?? '1,2').split(',').map(Number);
const GROUP = Number(flag('group') ?? 32);

function modelPath(): string {
  const given = flag('model');
  if (given) return given;
  const dir = join(process.cwd(), '.bench-out');
  const path = join(dir, 'gpt-6x768.onnx');
  if (existsSync(path)) return path;
  mkdirSync(dir, { recursive: true });
  console.log(`exporting ${path} with scripts/export-gpt.py (trains 40 steps on token chains first)...`);
  const r = spawnSync('/usr/bin/python3', ['scripts/export-gpt.py', '--out', path, '--reference', path.replace(/\.onnx$/, '.json'), '--prompt-len', String(PROMPT), '--corpus', 'chains', '--chain-tokens', '128', '--steps', '40', '--train-batch', '4', '--train-seq', '32', '--lr', '2e-3'], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('scripts/export-gpt.py failed (needs /usr/bin/python3 with torch and onnx)');
  return path;
}

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
async function ortRunner(bytes: Uint8Array, threads: number, heads: number, headDim: number): Promise<Runner> {
  const s = await ort.InferenceSession.create(bytes, ortSessionOptions(threads));
  return async (prompt) => {
    const r = await ortGreedy(s, prompt, NEW, heads, headDim);
    return { totalMs: r.totalMs, prefillMs: r.prefillMs, decodeMs: (r.totalMs - r.prefillMs) / (NEW - 1), tokens: r.tokens };
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const path = modelPath();
  const fp32 = await loadModel(path);
  const int8 = await quantize(fp32, { mode: 'dynamic' });
  const int4 = await quantize(fp32, { mode: 'weight-only', bits: 4, groupSize: GROUP });
  const sparse = await quantize(await prune(fp32, { sparsity: 0.9, minParams: 0 }), { mode: 'dynamic' });
  // The prompt export-gpt.py drew from its training data (beside the model as .json), else a fixed one.
  const refPath = path.replace(/\.onnx$/, '.json');
  const fromRef = existsSync(refPath) ? ((JSON.parse(readFileSync(refPath, 'utf8')) as { input_ids: number[][] }).input_ids[0] ?? []) : [];
  const prompt = fromRef.length === PROMPT ? fromRef : Array.from({ length: PROMPT }, (_, i) => (i * 37 + 11) % 512);
  const models: [string, Model][] = [['fp32', fp32], ['int8', int8], ['int4', int4], ['sparse90+int8', sparse]];
  const ortModels: [string, Uint8Array][] = [['fp32', fp32.toOnnx()], ['int8', exportOnnx(int8)], ['int4', exportOnnx(int4)]];
  for (const threads of THREADS) {
    const runners = new Map<string, Runner>();
    const sessions: InferenceSession[] = [];
    for (const [name, m] of models) {
      const s = await InferenceSession.create(m, { threads });
      sessions.push(s);
      runners.set(`sparq ${name}`, sparqRunner(s));
    }
    const past = fp32.inputs.find((i) => i.name === 'past_key_values.0.key')?.dims ?? [];
    const [heads, headDim] = [Number(past[1] ?? 12), Number(past[3] ?? 64)];
    for (const [name, bytes] of ortModels) runners.set(`ORT ${name}`, await ortRunner(bytes, threads, heads, headDim));
    const runs = new Map<string, Run[]>([...runners.keys()].map((k) => [k, []]));
    // Alternating rounds after one unmeasured warm-up each (plans compiled, pages touched).
    for (const r of runners.values()) await r(prompt);
    for (let round = 0; round < ROUNDS; round++) for (const [k, r] of runners) runs.get(k)!.push(await r(prompt));
    const ref = runs.get('sparq fp32')![0].tokens;
    const ortInt8 = median(runs.get('ORT int8')!.map((r) => r.totalMs / NEW));
    const ortFp32 = median(runs.get('ORT fp32')!.map((r) => r.totalMs / NEW));
    const rows = [...runs].map(([k, rs]) => {
      const perToken = median(rs.map((r) => r.totalMs / NEW));
      const agree = rs[0].tokens.filter((t, i) => t === ref[i]).length / ref.length;
      return [k, median(rs.map((r) => r.prefillMs)), median(rs.map((r) => r.decodeMs)), perToken, 1000 / perToken, ortFp32 / perToken, ortInt8 / perToken, agree];
    });
    printTable(
      `generate, prompt ${PROMPT} + ${NEW} new, batch 1, ${threads} thread(s), median of ${ROUNDS} alternating rounds; ms/token = whole call / new tokens; ` +
        `ORT = greedy loop over onnxruntime-node with the cache copied through JS; int4 = weight-only group ${GROUP}; agree = greedy tokens equal to sparq fp32's`,
      ['engine', 'prefill ms', 'decode ms/token', 'ms/token', 'tokens/s', 'vs ORT fp32', 'vs ORT int8', 'agree'],
      rows,
    );
    for (const s of sessions) await s.release();
  }
}

await main();
