// backend(): what sparq runs on in this process.
import { rethrowNative } from './errors.js';
import { native, type NativeCudaStatus } from './native.js';

export interface BackendInfo {
  /** Instruction set the kernels use, e.g. 'avx512-vnni' (SPARQ_ISA forces a lower one). */
  isa: string;
  /** Levels this CPU supports, lowest first: usable as SPARQ_ISA values. */
  available: string[];
  /** Native thread pool size (SPARQ_THREADS or the number of cores). */
  threads: number;
  cuda: NativeCudaStatus;
  version: string;
  features: Record<string, boolean>;
  /** Weight formats compiled into this addon. */
  formats: string[];
}

export function backend(): BackendInfo {
  try {
    return native().backend();
  } catch (e) {
    rethrowNative(e);
  }
}
