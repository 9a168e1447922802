// npm run bench -- serve [--duration=8] [--rounds=2] [--connections=1,16,64] [--max-batch=32] [--max-delay-ms=2]
// autocannon against `sparq serve` (batching off and on) and two reference servers written the way
// people write them today: node:http over onnxruntime-node on the main thread, and node:http handing
// each request to the least busy of 2 worker_threads that own an onnxruntime-node session. Each server
// runs in its own process and serves the same models, answering the same V2 JSON requests:
//   bert: a 2-layer hidden-128 BERT at sequence 128, pooled output only (1, 16 and 64 connections);
//   mlp:  a 256-4096-4096-10 MLP (71 MB of weights: one request streams them all, a batch shares them),
//         the model where dynamic batching is meant to pay (64 connections).
// The servers are measured alternately, round after round (the order reversed every other round), and
// the best round of each is kept. Writes .bench-out/serve-bench.json and .bench-out/serve-bench.html
// (req/s and p99 charts; --out=<dir> elsewhere).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

import autocannon from 'autocannon';

import { flag, printTable } from './harness.js';
import { ort } from './ort.js';
import { encoderModel, mlpModel } from '../src/onnx/zoo.js';
import { renderReport, type ReportData } from '../src/report/html-report.js';

const here = fileURLToPath(import.meta.url);

interface BenchModel {
  name: string;
  describe: string;
  bytes: () => Uint8Array;
  output: string;
  request: () => string;
}

const SEQ = 128;
const VOCAB = 1000;
const MODELS: BenchModel[] = [
  {
    name: 'bert',
    describe: 'BERT 2 layers, hidden 128, 2 heads, ffn 512, sequence 128; output pooler_output [1, 128]',
    bytes: () => encoderModel({ hidden: 128, heads: 2, ffn: 512, layers: 2, vocab: VOCAB, maxPosition: SEQ, pooler: true, seed: 1 }),
    output: 'pooler_output',
    request: () => {
      const ids = Array.from({ length: SEQ }, (_, i) => (i * 7919 + 13) % VOCAB);
      return JSON.stringify({
        inputs: [
          { name: 'input_ids', shape: [1, SEQ], datatype: 'INT64', data: ids },
          { name: 'attention_mask', shape: [1, SEQ], datatype: 'INT64', data: ids.map(() => 1) },
        ],
        outputs: [{ name: 'pooler_output' }],
      });
    },
  },
  {
    name: 'mlp',
    describe: 'MLP 256-4096-4096-10 (ReLU), 71 MB of fp32 weights; output [1, 10]',
    bytes: () => mlpModel({ sizes: [256, 4096, 4096, 10], seed: 3 }),
    output: 'output',
    request: () => JSON.stringify({ inputs: [{ name: 'input', shape: [1, 256], datatype: 'FP32', data: Array.from({ length: 256 }, (_, i) => Math.sin(i)) }] }),
  },
];

// ---------------------------------------------------------------- reference servers (child processes)

type V2Request = { inputs: { name: string; shape: number[]; datatype: string; data: number[] }[] };
type Feed = { type: 'int64' | 'float32'; data: BigInt64Array | Float32Array; dims: number[] };
const outputOf = (model: string) => MODELS.find((m) => m.name === model)!.output;

function readJson(req: IncomingMessage): Promise<V2Request> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as V2Request);
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}

function feedsOf(body: V2Request): Record<string, Feed> {
  const feeds: Record<string, Feed> = {};
  for (const i of body.inputs)
    feeds[i.name] = i.datatype === 'INT64' ? { type: 'int64', data: BigInt64Array.from(i.data.flat(), (v) => BigInt(v)), dims: i.shape } : { type: 'float32', data: Float32Array.from(i.data.flat()), dims: i.shape };
  return feeds;
}

const ortFeeds = (feeds: Record<string, Feed>) => Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor(v.type, v.data, v.dims)]));

function reply(res: ServerResponse, model: string, name: string, dims: readonly number[], data: Float32Array): void {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ model_name: model, outputs: [{ name, datatype: 'FP32', shape: dims, data: Array.from(data) }] }));
}

function listen(handler: (model: string, req: IncomingMessage, res: ServerResponse) => Promise<void>): void {
  const server = createServer((req, res) => {
    const model = /^\/v2\/models\/([^/]+)\/infer$/.exec(req.url ?? '')?.[1] ?? '';
    handler(model, req, res).catch((e: Error) => {
      res.statusCode = 500;
      res.end(JSON.stringify({ error: e.message }));
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(`listening on http://127.0.0.1:${(server.address() as { port: number }).port}\n`));
}

/** node:http + onnxruntime-node, run() on the main thread (default session options). */
async function ortMainServer(dir: string): Promise<void> {
  const sessions = new Map<string, ort.InferenceSession>();
  for (const m of MODELS) sessions.set(m.name, await ort.InferenceSession.create(join(dir, `${m.name}.onnx`)));
  listen(async (model, req, res) => {
    const feeds = ortFeeds(feedsOf(await readJson(req)));
    const name = outputOf(model);
    const out = (await sessions.get(model)!.run(feeds, [name]))[name];
    reply(res, model, name, out.dims, out.data as Float32Array);
  });
}

/** node:http handing each request to the least busy of 2 worker_threads, each owning the sessions. */
async function ortWorkersServer(dir: string): Promise<void> {
  const workers = Array.from({ length: 2 }, () => ({ w: new Worker(here, { workerData: { role: 'ort-worker', dir } }), busy: 0, pending: new Map<number, (r: { dims: number[]; data: Float32Array }) => void>() }));
  await Promise.all(workers.map((x) => new Promise((r) => x.w.once('message', r))));
  for (const x of workers)
    x.w.on('message', (m: { id: number; dims: number[]; data: Float32Array }) => {
      x.busy--;
      x.pending.get(m.id)!(m);
      x.pending.delete(m.id);
    });
  let nextId = 0;
  listen(async (model, req, res) => {
    const feeds = feedsOf(await readJson(req));
    const x = workers.reduce((a, b) => (b.busy < a.busy ? b : a));
    const id = nextId++;
    x.busy++;
    const out = await new Promise<{ dims: number[]; data: Float32Array }>((resolve) => {
      x.pending.set(id, resolve);
      x.w.postMessage({ id, model, feeds }, Object.values(feeds).map((f) => f.data.buffer as ArrayBuffer));
    });
    reply(res, model, outputOf(model), out.dims, out.data);
  });
}

async function ortWorker(dir: string): Promise<void> {
  const sessions = new Map<string, ort.InferenceSession>();
  for (const m of MODELS) sessions.set(m.name, await ort.InferenceSession.create(join(dir, `${m.name}.onnx`), { intraOpNumThreads: 1, interOpNumThreads: 1 }));
  parentPort!.postMessage('ready');
  parentPort!.on('message', async (m: { id: number; model: string; feeds: Record<string, Feed> }) => {
    const name = outputOf(m.model);
    const out = (await sessions.get(m.model)!.run(ortFeeds(m.feeds), [name]))[name];
    const data = out.data as Float32Array;
    parentPort!.postMessage({ id: m.id, dims: out.dims, data }, [data.buffer as ArrayBuffer]);
  });
}

// ---------------------------------------------------------------- the orchestrator

interface Peer {
  name: string;
  child: ChildProcess;
  url: string;
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

function start(name: string, args: string[]): Promise<Peer> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[\d.:]+)/.exec(out);
      if (m) resolve({ name, child, url: m[1] });
    });
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before listening: ${out}`)));
  });
}

interface Row {
  model: string;
  server: string;
  connections: number;
  reqPerSec: number;
  p50: number;
  p99: number;
  errors: number;
  requests: number;
  round: number;
  /** Batching servers: mean requests per run and mean run time over this measurement. */
  meanBatch?: number;
  meanRunMs?: number;
}

function load(url: string, model: string, connections: number, seconds: number, body: string): Promise<autocannon.Result> {
  return autocannon({ url: `${url}/v2/models/${model}/infer`, method: 'POST', body, headers: { 'content-type': 'application/json' }, connections, duration: seconds });
}

/** Run count, run seconds and batched requests from the server's own histograms. */
async function scrape(url: string, model: string): Promise<{ runs: number; seconds: number; requests: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const v = (name: string) => Number(new RegExp(`^${name}\\{model="${model}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { runs: v('sparq_compute_seconds_count'), seconds: v('sparq_compute_seconds_sum'), requests: v('sparq_batch_size_sum') };
}

async function main(): Promise<void> {
  const seconds = Number(flag('duration') ?? 8);
  const rounds = Number(flag('rounds') ?? 2);
  const conns = (flag('connections') ?? '1,16,64').split(',').map(Number);
  const maxBatch = flag('max-batch') ?? '32';
  const maxDelay = flag('max-delay-ms') ?? '2';
  const dir = mkdtempSync(join(tmpdir(), 'sparq-serve-bench-'));
  for (const m of MODELS) writeFileSync(join(dir, `${m.name}.onnx`), m.bytes());
  const sparqArgs = [here, '--peer=sparq', '--', 'serve', ...MODELS.map((m) => join(dir, `${m.name}.onnx`)), '--port', '0'];
  // --variants=a;b: more sparq serve configurations, each a comma-separated list of flags (for tuning).
  const variants = (flag('variants') ?? '').split(';').filter(Boolean);
  const batchedName = `sparq serve --max-batch ${maxBatch}`;
  const peers = await Promise.all([
    start('sparq serve', sparqArgs),
    start(batchedName, [...sparqArgs, '--max-batch', maxBatch, '--max-delay-ms', maxDelay]),
    start('ORT main thread', [here, '--peer=ort-main', `--dir=${dir}`]),
    start('ORT 2 workers', [here, '--peer=ort-workers', `--dir=${dir}`]),
    ...variants.map((v) => start(`sparq serve ${v.replaceAll(',', ' ')}`, [...sparqArgs, ...v.split(',')])),
  ]);
  const host = `${cpus()[0]?.model ?? 'unknown cpu'}, ${availableParallelism()} cores, cpu family ${/cpu family\s*:\s*(\d+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '?'}`;
  const plan: { model: BenchModel; connections: number }[] = [...conns.map((c) => ({ model: MODELS[0], connections: c })), { model: MODELS[1], connections: Math.max(...conns) }];
  console.log(`host: ${host}; ${seconds} s per run, ${rounds} rounds, servers alternating`);
  const rows: Row[] = [];
  try {
    for (const p of peers) for (const m of MODELS) await load(p.url, m.name, 4, 2, m.request()); // warm-up: plans compiled, JIT warm
    for (let round = 0; round < rounds; round++) {
      for (const { model, connections } of plan) {
        const body = model.request();
        for (const p of round % 2 ? [...peers].reverse() : peers) {
          await new Promise((r) => setTimeout(r, 500)); // the last server's spinning threads settle
          const sparq = p.name.startsWith('sparq');
          const before = sparq ? await scrape(p.url, model.name) : undefined;
          const r = await load(p.url, model.name, connections, seconds, body);
          const row: Row = { model: model.name, server: p.name, connections, reqPerSec: r.requests.total / r.duration, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx, requests: r.requests.total, round };
          if (before) {
            const after = await scrape(p.url, model.name);
            const runs = Math.max(1, after.runs - before.runs);
            row.meanBatch = (after.requests - before.requests) / runs;
            row.meanRunMs = (1000 * (after.seconds - before.seconds)) / runs;
          }
          rows.push(row);
          console.log(`round ${round + 1} ${model.name} ${p.name.padEnd(26)} ${String(connections).padStart(3)} conn: ${row.reqPerSec.toFixed(0).padStart(6)} req/s  p50 ${row.p50} ms  p99 ${row.p99} ms  errors ${row.errors}${row.meanBatch ? `  batch ${row.meanBatch.toFixed(1)} run ${row.meanRunMs!.toFixed(2)} ms` : ''}`);
        }
      }
    }
  } finally {
    for (const p of peers) p.child.kill('SIGTERM');
  }
  // The best round of each server and case (a disturbed round loses to a quiet one).
  const best = new Map<string, Row>();
  for (const r of rows) {
    const k = `${r.model}|${r.server}|${r.connections}`;
    if (!best.has(k) || best.get(k)!.reqPerSec < r.reqPerSec) best.set(k, r);
  }
  const get = (model: string, server: string, c: number) => best.get(`${model}|${server}|${c}`)!;
  const [sparq, batched, main, workers] = peers.map((p) => p.name);
  const order = (r: Row) => MODELS.findIndex((m) => m.name === r.model) * 1e6 + r.connections * 100 + peers.findIndex((p) => p.name === r.server);
  const table = [...best.values()].sort((a, b) => order(a) - order(b));
  printTable(
    'req/s, latency (ms) and errors, best of the rounds',
    ['model', 'server', 'connections', 'req/s', 'p50', 'p99', 'errors', 'vs ORT main', 'vs ORT 2 workers'],
    table.map((r) => [r.model, r.server, String(r.connections), r.reqPerSec, r.p50, r.p99, String(r.errors), r.reqPerSec / get(r.model, main, r.connections).reqPerSec, r.reqPerSec / get(r.model, workers, r.connections).reqPerSec]),
  );
  const ratios = plan.map(({ model, connections: c }) => ({
    model: model.name,
    connections: c,
    sparqVsMain: get(model.name, sparq, c).reqPerSec / get(model.name, main, c).reqPerSec,
    sparqVsWorkers: get(model.name, sparq, c).reqPerSec / get(model.name, workers, c).reqPerSec,
    p99SparqVsMain: get(model.name, sparq, c).p99 / get(model.name, main, c).p99,
    batchedVsSparq: get(model.name, batched, c).reqPerSec / get(model.name, sparq, c).reqPerSec,
    batchedP99: get(model.name, batched, c).p99,
    batchedP99Bound: 2 * (Number(maxDelay) + (get(model.name, batched, c).meanRunMs ?? 0)),
    meanBatch: get(model.name, batched, c).meanBatch ?? 0,
  }));
  printTable(
    `ratios (req/s) and the batching bound, p99 < 2 x (max delay ${maxDelay} ms + one batch's run)`,
    ['model', 'connections', 'sparq / ORT main', 'sparq / ORT 2 workers', 'p99 sparq / ORT main', 'batching on / off', 'mean batch', 'p99 batching', 'bound'],
    ratios.map((r) => [r.model, String(r.connections), r.sparqVsMain, r.sparqVsWorkers, r.p99SparqVsMain, r.batchedVsSparq, r.meanBatch, r.batchedP99, r.batchedP99Bound]),
  );
  const result = { host, node: process.version, seconds, rounds, models: MODELS.map((m) => ({ name: m.name, describe: m.describe })), maxBatch: Number(maxBatch), maxDelayMs: Number(maxDelay), rows, best: table, ratios };
  const out = flag('out') ?? '.bench-out';
  writeFileSync(join(out, 'serve-bench.json'), JSON.stringify(result, null, 2) + '\n');
  const bert = MODELS[0].name;
  const series = (pick: (r: Row) => number) => peers.map((p) => ({ name: p.name, points: conns.map((c) => [c, Math.max(0.1, pick(get(bert, p.name, c)))] as [number, number]) }));
  const report: ReportData = {
    title: 'sparq serve vs onnxruntime-node HTTP servers',
    generatedAt: new Date().toISOString(),
    environment: { host, node: process.version, duration_s: seconds, rounds, max_batch: Number(maxBatch), max_delay_ms: Number(maxDelay) },
    sections: [
      {
        title: 'Serving: throughput and tail latency',
        text: `autocannon, ${seconds} s per run, V2 JSON requests, best of ${rounds} alternating rounds. ${MODELS.map((m) => `${m.name}: ${m.describe}`).join('. ')}.`,
        charts: [
          { title: `${bert}: req/s by connections`, xLabel: 'connections', yLabel: 'req/s', logX: true, series: series((r) => r.reqPerSec) },
          { title: `${bert}: p99 latency by connections`, xLabel: 'connections', yLabel: 'ms', logX: true, logY: true, series: series((r) => r.p99) },
        ],
        table: { columns: ['model', 'server', 'connections', 'req/s', 'p50 ms', 'p99 ms', 'errors'], rows: table.map((r) => [r.model, r.server, r.connections, r.reqPerSec, r.p50, r.p99, r.errors]) },
      },
    ],
  };
  writeFileSync(join(out, 'serve-bench.html'), renderReport(report));
  console.log(`\nwrote ${join(out, 'serve-bench.json')} and ${join(out, 'serve-bench.html')}`);
}

const peer = flag('peer');
if (!isMainThread) {
  const wd = workerData as { role: string; dir: string };
  if (wd.role === 'ort-worker') await ortWorker(wd.dir);
} else if (peer === 'sparq') {
  const { main: cli } = await import('../src/cli/main.js');
  process.exitCode = await cli(process.argv.slice(process.argv.indexOf('--') + 1));
} else if (peer === 'ort-main') {
  await ortMainServer(flag('dir')!);
} else if (peer === 'ort-workers') {
  await ortWorkersServer(flag('dir')!);
} else {
  await main();
}
