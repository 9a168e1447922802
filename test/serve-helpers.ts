// Shared by the serve tests: small models written to a temporary repository, and a request helper.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { GraphBuilder } from '../src/onnx/builder.js';
import { mlpModel } from '../src/onnx/zoo.js';

/** y = Identity(x), FP32 [batch, 4]: what goes in must come out bit for bit. */
export function identityModel(): Uint8Array {
  const g = new GraphBuilder();
  g.opset = 17;
  g.input('x', 'FLOAT', ['batch', 4]);
  g.node('Identity', ['x'], ['y']);
  g.output('y', 'FLOAT', ['batch', 4]);
  return g.build('identity');
}

export const MLP_SIZES = [8, 16, 4];

/** A repository: mlp (versions 1 and 2, Triton's layout) and identity (name/model.onnx). */
export function makeRepository(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sparq-serve-'));
  for (const [v, seed] of [['1', 1], ['2', 2]] as const) {
    mkdirSync(join(dir, 'mlp', v), { recursive: true });
    writeFileSync(join(dir, 'mlp', v, 'model.onnx'), mlpModel({ sizes: MLP_SIZES, seed }));
  }
  mkdirSync(join(dir, 'identity'));
  writeFileSync(join(dir, 'identity', 'model.onnx'), identityModel());
  return dir;
}

export interface Reply {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
  bytes: Uint8Array;
}

export async function call(url: string, init: RequestInit & { json?: unknown } = {}): Promise<Reply> {
  const { json, ...rest } = init;
  const r = await fetch(url, { ...rest, method: rest.method ?? (json !== undefined || rest.body !== undefined ? 'POST' : 'GET'), body: json !== undefined ? JSON.stringify(json) : rest.body });
  const bytes = new Uint8Array(await r.arrayBuffer());
  const headerLength = r.headers.get('inference-header-content-length');
  const text = new TextDecoder().decode(headerLength ? bytes.subarray(0, Number(headerLength)) : bytes);
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { text };
  }
  return { status: r.status, headers: r.headers, json: parsed, bytes };
}

/** A self-signed certificate for 127.0.0.1 (openssl); undefined where openssl is missing. */
export function selfSignedCert(): { cert: Buffer; key: Buffer } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'sparq-tls-'));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
  return made.status === 0 ? { cert: readFileSync(cert), key: readFileSync(key) } : undefined;
}

/** One HTTPS request trusting `ca`: its status and body text. */
export function httpsCall(url: string, ca: Buffer, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, method: init.method ?? 'GET', headers: init.headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}
