// onnxruntime-node is optional for users (a devDependency here): benchmarks and comparisons load it on
// demand and say plainly when it is not installed (and, for --device cuda, when its CUDA provider is not).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type OrtModule = typeof import('onnxruntime-node');

export interface OrtLoad {
  module?: OrtModule;
  version?: string;
  reason?: string;
}

let cached: OrtLoad | undefined;

export async function loadOnnxruntime(): Promise<OrtLoad> {
  if (cached) return cached;
  try {
    const module = (await import('onnxruntime-node')) as OrtModule;
    const version = (module as unknown as { env?: { versions?: { node?: string } } }).env?.versions?.node;
    cached = { module, version };
  } catch (e) {
    cached = { reason: `onnxruntime-node is not installed (${(e as Error).message.split('\n')[0]}); npm install onnxruntime-node to compare` };
  }
  return cached;
}

/** Where onnxruntime-node keeps its native binding and the provider libraries beside it. */
function ortBinaryDir(): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
    return join(dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return undefined;
  }
}

const CUDA_PROVIDER_LIB: Partial<Record<NodeJS.Platform, string>> = {
  linux: 'libonnxruntime_providers_cuda.so',
  win32: 'onnxruntime_providers_cuda.dll',
};

/**
 * Whether onnxruntime-node's CUDA execution provider is installed: its binding lists 'cuda' and the
 * provider library lies beside it. onnxruntime-node ships CPU binaries; the CUDA provider is a separate
 * download at install (`--onnxruntime-node-install=cuda12`, Linux and Windows x64 only).
 */
export function ortCudaProvider(ort: OrtModule): { installed: boolean; reason?: string } {
  const listed = (ort as unknown as { listSupportedBackends?: () => { name: string }[] }).listSupportedBackends?.() ?? [];
  const lib = CUDA_PROVIDER_LIB[process.platform];
  const dir = ortBinaryDir();
  if (!listed.some((b) => b.name === 'cuda') || !lib || process.arch !== 'x64')
    return { installed: false, reason: `onnxruntime-node has no CUDA provider for ${process.platform}/${process.arch}` };
  if (!dir || !existsSync(join(dir, lib)))
    return { installed: false, reason: `onnxruntime-node's CUDA provider is not installed (no ${lib}; it ships CPU binaries: npm install onnxruntime-node --onnxruntime-node-install=cuda12 adds it)` };
  return { installed: true };
}
