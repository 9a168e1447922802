// sparq serve MODEL_OR_DIR...: a KServe V2 (Open Inference Protocol) HTTP server over the models.
// Prints one line when it listens; SIGTERM / SIGINT: readiness turns 503, requests in flight finish,
// exit 0 (within 10 s). The server code loads only when this command runs.
import { readFileSync } from 'node:fs';

import { SparqError } from '../../errors.js';
import { existingFile, positiveInt, str, UsageError, type Command, type ParsedArgs } from '../args.js';

/** Flags whose value is a count (>= 0 allowed for the ones a zero turns off). */
function count(values: ParsedArgs['values'], key: string, min: 0 | 1): number | undefined {
  const v = str(values, key);
  if (v === undefined) return undefined;
  if (min === 1) return positiveInt(v, `--${key}`);
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n)) throw new UsageError(`Expected a non-negative integer for --${key} but received ${JSON.stringify(v)}`);
  return n;
}

function readPem(path: string | undefined, flag: string): Buffer {
  try {
    return readFileSync(existingFile(path, flag));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new SparqError('ERR_IO', `Cannot read ${path} (${flag}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Serve models over the KServe V2 inference protocol (HTTP), with dynamic batching and metrics.',
  usage:
    'sparq serve <model.onnx|model.sparq|repository-dir>... [--model-name NAME] [--port 8000] [--host 127.0.0.1] [--threads N] [--instances N] [--max-batch N] [--max-delay-ms X] [--max-queue N] [--timeout-ms X] [--api-key K] [--grpc-port N] [--tls-cert F --tls-key F]',
  help: [
    '  a file is a model named by its base name; a directory holds name/model.sparq (or .onnx) or name/<version>/model.onnx',
    '  --model-name NAME  the name of the one model given (default: its file or folder name)',
    '  --port N           port (default 8000; 0: any free port)',
    '  --host ADDR        address to bind (default 127.0.0.1; 0.0.0.0 in a container)',
    '  --threads N        intra-op threads per run (default: every core, while no other run holds the pool; 0: the whole native pool)',
    '  --instances N      sessions per model computing at once (default: one per core, at most 4)',
    '  --max-batch N      dynamic batching: rows per run at most (default 1: off)',
    '  --max-delay-ms X   how long a request may wait for a batch to fill (default 2)',
    '  --max-queue N      requests waiting per model before 503 + Retry-After (default 1024)',
    '  --timeout-ms X     answer 504 when a request takes longer (default 60000; 0: never)',
    '  --max-body-mb N    largest request body in MiB, else 413 (default 64)',
    '  --api-key K        require Authorization: Bearer K (or the SPARQ_API_KEY environment variable)',
    '  --grpc-port N      also serve the V2 gRPC API (inference.GRPCInferenceService) on this port',
    '  --tls-cert F       PEM certificate: serve HTTPS (with --tls-key)',
    '  --tls-key F        PEM private key',
  ],
  options: {
    'model-name': { type: 'string' },
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    threads: { type: 'string' },
    instances: { type: 'string' },
    'max-batch': { type: 'string' },
    'max-delay-ms': { type: 'string' },
    'max-queue': { type: 'string' },
    'timeout-ms': { type: 'string' },
    'max-body-mb': { type: 'string' },
    'api-key': { type: 'string' },
    'grpc-port': { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
  },
  async run({ values, positionals }) {
    if (positionals.length === 0) throw new UsageError('Expected at least one model file or repository directory for <model> but received nothing');
    const port = count(values, 'port', 0);
    const grpcPort = count(values, 'grpc-port', 0);
    for (const [flag, p] of [['--port', port], ['--grpc-port', grpcPort]] as const)
      if (p !== undefined && p > 65535) throw new UsageError(`Expected a port in [0, 65535] for ${flag} but received ${p}`);
    const certPath = str(values, 'tls-cert');
    const keyPath = str(values, 'tls-key');
    if ((certPath === undefined) !== (keyPath === undefined)) throw new UsageError('Expected both --tls-cert and --tls-key (or neither)');
    const apiKey = str(values, 'api-key') ?? (process.env.SPARQ_API_KEY || undefined);
    const maxBodyMb = count(values, 'max-body-mb', 1);
    const { serve } = await import('../../serve/server.js');
    const server = await serve({
      models: positionals,
      modelName: str(values, 'model-name'),
      port,
      grpcPort,
      host: str(values, 'host'),
      threads: count(values, 'threads', 0),
      instances: count(values, 'instances', 1),
      maxBatch: count(values, 'max-batch', 1),
      maxDelayMs: count(values, 'max-delay-ms', 0),
      maxQueue: count(values, 'max-queue', 0),
      timeoutMs: count(values, 'timeout-ms', 0),
      maxBodyBytes: maxBodyMb === undefined ? undefined : maxBodyMb * 1024 * 1024,
      apiKey,
      tls: certPath ? { cert: readPem(certPath, '--tls-cert'), key: readPem(keyPath, '--tls-key') } : undefined,
    });
    const models = [...server.plane.registry].map((m) => `${m.name}@${m.version}`);
    const first = [...server.plane.registry][0];
    const grpc = server.grpcPort === undefined ? '' : `, gRPC on port ${server.grpcPort}`;
    process.stdout.write(`sparq serve: listening on ${server.url}${grpc} (${models.join(', ')}; ${first.queue.instances} instance(s) each)\n`);
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        process.off('SIGTERM', onTerm);
        process.off('SIGINT', onInt);
        if (!values.quiet) process.stderr.write(`sparq serve: ${signal}: finishing requests in flight\n`);
        void server.close(10_000 - 500).then(resolve);
      };
      const onTerm = () => stop('SIGTERM');
      const onInt = () => stop('SIGINT');
      process.once('SIGTERM', onTerm);
      process.once('SIGINT', onInt);
    });
    return 0;
  },
};
