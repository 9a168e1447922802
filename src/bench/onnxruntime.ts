// onnxruntime-node is optional for users (a devDependency here): benchmarks and comparisons load it on
// demand and say plainly when it is not installed.
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
