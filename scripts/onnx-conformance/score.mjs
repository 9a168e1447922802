#!/usr/bin/env node
// Scores sparq and onnxruntime-node side by side on ONNX's backend node tests (written by generate.py).
//
//   node scripts/onnx-conformance/score.mjs [--cases DIR] [--json FILE] [--readme README.md] [--check]
//                                           [--only REGEX] [--jobs N]
//
// Each case's model runs in both runtimes on every data set; an output passes within rtol 1e-3, atol 1e-5
// (NaN matches NaN), with the reference's dtype and dims. sparq's result per case is one of
//   pass     every output of every data set matches
//   refused  a coded error (SparqError or a validation error with an ERR_* code other than ERR_NATIVE)
//   wrong    it ran, and some output differs (value, dtype or dims)
//   crash    the process died or hung, or an error came without a code (ERR_NATIVE is an uncaught
//            native exception: uncoded)
// Cases run in child processes, a batch of cases each; a child that dies marks the case it was running
// as a crash and a fresh child goes on with the rest, so one native crash never stops the scorer.
// --check exits 1 on any wrong result or crash (CI).
import { fork, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { TextDecoder } from 'node:util';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const RTOL = 1e-3;
const ATOL = 1e-5;
const CASE_TIMEOUT_MS = 60_000;
const BATCH = 48;

function parseArgs(argv) {
  const args = { jobs: 2 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--cases') args.cases = next();
    else if (a === '--json') args.json = next();
    else if (a === '--readme') args.readme = next();
    else if (a === '--only') args.only = new RegExp(next());
    else if (a === '--jobs') args.jobs = Math.max(1, Number(next()) | 0);
    else if (a === '--check') args.check = true;
    else if (a === '--child') args.child = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

// ------------------------------------------------------------------ tensors from TensorProto files

const ORT_TYPE = { 1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string', 9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64' };
const ARRAY = { float32: Float32Array, uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array, int32: Int32Array, int64: BigInt64Array, bool: Uint8Array, float16: Uint16Array, float64: Float64Array, uint32: Uint32Array, uint64: BigUint64Array };

async function loadProto() {
  const { default: onnxProto } = await import('onnx-proto');
  return onnxProto.onnx;
}

function toNum(v) {
  return typeof v === 'number' ? v : v && typeof v.toNumber === 'function' ? v.toNumber() : Number(v ?? 0);
}

function tensorFromProto(onnx, bytes) {
  const t = onnx.TensorProto.decode(bytes);
  const type = ORT_TYPE[t.dataType];
  if (!type) throw new Error(`data type ${t.dataType} is outside the scorer`);
  const dims = (t.dims ?? []).map(toNum);
  const n = dims.reduce((a, b) => a * b, 1);
  if (type === 'string') return { type, dims, data: (t.stringData ?? []).map((s) => new TextDecoder().decode(s)) };
  const Ctor = ARRAY[type];
  let data;
  if (t.rawData && t.rawData.length > 0) {
    const raw = Uint8Array.prototype.slice.call(t.rawData);
    data = new Ctor(raw.buffer, 0, n);
  } else if (type === 'float32') data = Float32Array.from(t.floatData ?? []);
  else if (type === 'float64') data = Float64Array.from(t.doubleData ?? []);
  else if (type === 'int64') data = BigInt64Array.from(t.int64Data ?? [], (v) => BigInt(v.toString()));
  else if (type === 'uint64') data = BigUint64Array.from(t.uint64Data ?? [], (v) => BigInt(v.toString()));
  else if (type === 'uint32') data = Uint32Array.from(t.uint64Data ?? [], toNum);
  else data = Ctor.from(t.int32Data ?? []);
  if (data.length !== n) throw new Error(`tensor holds ${data.length} values for dims [${dims}]`);
  return { type, dims, data };
}

function halfToFloat(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** '' when `actual` matches `expected`, else what differs. */
function compare(expected, actual) {
  if (!actual) return 'no output';
  if (actual.type !== expected.type) return `dtype ${actual.type}, expected ${expected.type}`;
  const dims = [...actual.dims];
  if (dims.length !== expected.dims.length || dims.some((d, i) => d !== expected.dims[i])) return `dims [${dims}], expected [${expected.dims}]`;
  const n = expected.data.length;
  if (actual.data.length !== n) return `${actual.data.length} values, expected ${n}`;
  const float = expected.type === 'float32' || expected.type === 'float64' || expected.type === 'float16';
  for (let i = 0; i < n; i++) {
    let a = actual.data[i];
    let e = expected.data[i];
    if (expected.type === 'float16') [a, e] = [halfToFloat(a), halfToFloat(e)];
    if (!float) {
      if (a !== e) return `element ${i}: ${a}, expected ${e}`;
      continue;
    }
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (a === e) continue;
    if (!(Math.abs(a - e) <= ATOL + RTOL * Math.abs(e))) return `element ${i}: ${a}, expected ${e}`;
  }
  return '';
}

function loadCase(onnx, dir) {
  const model = readFileSync(join(dir, 'model.onnx'));
  const sets = readdirSync(dir)
    .filter((d) => d.startsWith('test_data_set_'))
    .sort()
    .map((d) => {
      const files = readdirSync(join(dir, d));
      const read = (kind) =>
        files
          .filter((f) => f.startsWith(`${kind}_`))
          .sort((a, b) => parseInt(a.slice(kind.length + 1), 10) - parseInt(b.slice(kind.length + 1), 10))
          .map((f) => tensorFromProto(onnx, readFileSync(join(dir, d, f))));
      return { inputs: read('input'), outputs: read('output') };
    });
  return { model, sets };
}

/** Input names in declaration order, skipping initializers listed as inputs (pre-IR-4 files). */
function graphIO(onnx, bytes) {
  const g = onnx.ModelProto.decode(bytes).graph;
  const inits = new Set((g.initializer ?? []).map((t) => t.name));
  return { inputs: (g.input ?? []).map((v) => v.name).filter((n) => !inits.has(n)), outputs: (g.output ?? []).map((v) => v.name) };
}

function describeError(e) {
  const code = e && typeof e.code === 'string' ? e.code : '';
  const message = String(e?.message ?? e).split('\n')[0].slice(0, 240);
  return { code, message };
}

async function runOne(runtime, kind, onnx, c, io) {
  let session;
  try {
    session = await runtime.InferenceSession.create(c.model);
    for (const [si, set] of c.sets.entries()) {
      const feeds = {};
      io.inputs.forEach((name, i) => {
        const t = set.inputs[i];
        feeds[name] = new runtime.Tensor(t.type, t.data, t.dims);
      });
      const out = await session.run(feeds);
      for (const [i, name] of io.outputs.entries()) {
        const diff = compare(set.outputs[i], out[name]);
        if (diff) return { status: 'wrong', detail: `data set ${si}, output "${name}": ${diff}` };
      }
    }
    return { status: 'pass' };
  } catch (e) {
    const { code, message } = describeError(e);
    const coded = /^ERR_/.test(code) && code !== 'ERR_NATIVE';
    if (kind === 'ort') return { status: 'fail', detail: message };
    return { status: coded ? 'refused' : 'crash', code, detail: message };
  } finally {
    await session?.release?.();
  }
}

async function child() {
  const onnx = await loadProto();
  const sparq = await import(join(root, 'dist', 'index.js'));
  const ort = (await import('onnxruntime-node')).default;
  process.on('message', async (msg) => {
    if (msg.exit) process.exit(0);
    for (const name of msg.cases) {
      const dir = join(msg.dir, name);
      let c, io;
      try {
        c = loadCase(onnx, dir);
        io = graphIO(onnx, c.model);
      } catch (e) {
        process.send({ name, done: true, ort: { status: 'fail', detail: String(e.message) }, sparq: { status: 'crash', detail: `case unreadable: ${e.message}` } });
        continue;
      }
      process.send({ name, phase: 'ort' });
      const o = await runOne(ort, 'ort', onnx, c, io);
      process.send({ name, phase: 'sparq' });
      const s = await runOne(sparq, 'sparq', onnx, c, io);
      process.send({ name, done: true, ort: o, sparq: s });
    }
    process.send({ batchDone: true });
  });
  process.send({ ready: true });
}

/** Runs one batch of cases in child processes, restarting after a crash; resolves with results by name. */
function runBatch(dir, names, results) {
  return new Promise((resolveBatch) => {
    let pending = [...names];
    const start = () => {
      if (pending.length === 0) return resolveBatch();
      const proc = fork(fileURLToPath(import.meta.url), ['--child'], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
      let stderr = '';
      proc.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
      let current = null;
      let timer = null;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => proc.kill('SIGKILL'), CASE_TIMEOUT_MS);
      };
      proc.on('message', (m) => {
        arm();
        if (m.ready) proc.send({ dir, cases: pending });
        else if (m.phase) current = m;
        else if (m.done) {
          results[m.name] = { ort: m.ort, sparq: m.sparq };
          pending = pending.filter((n) => n !== m.name);
          current = null;
        } else if (m.batchDone) proc.send({ exit: true });
      });
      proc.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (current && pending.includes(current.name)) {
          const how = signal ? `killed by ${signal}${signal === 'SIGKILL' ? ' (timeout or OOM)' : ''}` : `exit code ${code}`;
          const died = { status: 'crash', detail: `${current.phase} process ${how}: ${stderr.trim().split('\n').slice(-3).join(' | ')}` };
          const prev = results[current.name] ?? {};
          results[current.name] = current.phase === 'ort' ? { ort: { status: 'fail', detail: died.detail }, sparq: { status: 'crash', detail: 'not run (onnxruntime-node crashed first)' } } : { ort: prev.ort ?? { status: 'pass' }, sparq: died };
          // The ORT verdict of a case whose sparq run crashed is unknown here: rerun ORT alone is not worth it.
          pending = pending.filter((n) => n !== current.name);
        } else if (pending.length > 0 && !current) {
          for (const n of pending) results[n] = { ort: { status: 'fail', detail: 'child failed to start' }, sparq: { status: 'crash', detail: `child exited (${code ?? signal}) before the case: ${stderr.trim().slice(-300)}` } };
          pending = [];
        }
        start();
      });
      arm();
    };
    start();
  });
}

function casesDir(args) {
  if (args.cases) return resolve(args.cases);
  const dir = process.env.SPARQ_ONNX_CASES ?? join(homedir(), '.cache', 'sparq', 'onnx-node-tests');
  const r = spawnSync('/usr/bin/python3', [join(here, 'generate.py'), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error('generate.py failed (needs Debian python3-onnx: apt-get install python3-onnx)');
  return dir;
}

function tally(results, names, who) {
  const t = { pass: 0, refused: 0, wrong: 0, crash: 0, fail: 0 };
  // onnxruntime-node's own misses count as failures whatever their kind.
  for (const n of names) {
    const s = results[n][who].status;
    t[who === 'ort' && s !== 'pass' ? 'fail' : s]++;
  }
  return t;
}

function markdown(summary) {
  const { total, sparq, ort, ops } = summary;
  const lines = [];
  lines.push(`ONNX backend node tests from onnx ${summary.onnx} (${total} cases), scored by \`node scripts/onnx-conformance/score.mjs\` (rtol ${RTOL}, atol ${ATOL}).`, '');
  lines.push('| runtime | passes | refused with a coded error | wrong result | crash or uncoded error |', '|---|---|---|---|---|');
  lines.push(`| onnxruntime-node | ${ort.pass} | — | ${ort.fail} fail (error or wrong result) | — |`);
  lines.push(`| sparq | ${sparq.pass} | ${sparq.refused} | ${sparq.wrong} | ${sparq.crash} |`, '');
  lines.push(`Op types with a passing case: ${summary.opsPassing} of ${Object.keys(ops).length}.`, '');
  lines.push('| op | cases | sparq pass | refused | wrong | crash | ORT pass |', '|---|---|---|---|---|---|---|');
  for (const [op, r] of Object.entries(ops).sort((a, b) => a[0].localeCompare(b[0]))) lines.push(`| ${op} | ${r.cases} | ${r.pass} | ${r.refused} | ${r.wrong} | ${r.crash} | ${r.ort} |`);
  return lines.join('\n');
}

function updateReadme(path, table) {
  const start = '<!-- onnx-conformance:start -->';
  const end = '<!-- onnx-conformance:end -->';
  const text = readFileSync(path, 'utf8');
  const block = `${start}\n${table}\n${end}`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  const next = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + end.length) : `${text.trimEnd()}\n\n## ONNX conformance\n\n${block}\n`;
  writeFileSync(path, next);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.child) return child();
  const dir = casesDir(args);
  const opOf = existsSync(join(dir, 'ops.json')) ? JSON.parse(readFileSync(join(dir, 'ops.json'), 'utf8')) : {};
  const names = readdirSync(dir)
    .filter((n) => n.startsWith('test_') && existsSync(join(dir, n, 'model.onnx')))
    .filter((n) => !args.only || args.only.test(n))
    .sort((a, b) => (opOf[a] ?? '').localeCompare(opOf[b] ?? '') || a.localeCompare(b));
  const batches = [];
  for (let i = 0; i < names.length; i += BATCH) batches.push(names.slice(i, i + BATCH));
  const results = {};
  let next = 0;
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: Math.min(args.jobs, batches.length) }, async () => {
      while (next < batches.length) await runBatch(dir, batches[next++], results);
    }),
  );
  const ops = {};
  for (const n of names) {
    const op = opOf[n] ?? '?';
    const r = (ops[op] ??= { cases: 0, pass: 0, refused: 0, wrong: 0, crash: 0, ort: 0 });
    r.cases++;
    r[results[n].sparq.status]++;
    if (results[n].ort.status === 'pass') r.ort++;
  }
  const onnxVersion = existsSync(join(dir, 'STAMP')) ? readFileSync(join(dir, 'STAMP'), 'utf8').split(' ')[1] : '?';
  const summary = {
    onnx: onnxVersion,
    total: names.length,
    seconds: Math.round((Date.now() - t0) / 1000),
    sparq: tally(results, names, 'sparq'),
    ort: tally(results, names, 'ort'),
    opsPassing: Object.values(ops).filter((r) => r.pass > 0).length,
    ops,
  };
  const table = markdown(summary);
  if (args.json) writeFileSync(args.json, JSON.stringify({ ...summary, cases: Object.fromEntries(names.map((n) => [n, { op: opOf[n], ...results[n] }])) }, null, 1));
  if (args.readme) updateReadme(args.readme, table);
  console.log(table);
  const bad = names.filter((n) => results[n].sparq.status === 'wrong' || results[n].sparq.status === 'crash');
  for (const n of bad) console.log(`${results[n].sparq.status.toUpperCase()} ${n}: ${results[n].sparq.detail}`);
  console.log(`\n${summary.sparq.pass}/${names.length} pass, ${summary.sparq.wrong} wrong, ${summary.sparq.crash} crash (${summary.seconds} s)`);
  if (args.check && bad.length > 0) process.exit(1);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
