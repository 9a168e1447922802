// The CUDA device check the runtime uses before it accepts `device: 'cuda'`: one clear error, with
// the reason the addon gives (a CPU-only build, no GPU, no driver, a driver too old...).
import { backend } from './backend.js';
import { SparqError } from './errors.js';
import type { NativeCudaStatus } from './native.js';

/** Weight formats that live on the GPU (kernels.pack's options.format). */
export const CUDA_FORMATS = ['cuda-f32', 'cuda-f16', 'cuda-int8', 'cuda-sparse', 'cuda-block', 'cuda-2:4'] as const;

/** The CUDA device sparq would use; throws SparqError ERR_CUDA_UNAVAILABLE (saying why) where there is none. */
export function assertCudaAvailable(): NativeCudaStatus & { available: true; device: string } {
  const status = backend().cuda;
  if (!status.available) {
    throw new SparqError(
      'ERR_CUDA_UNAVAILABLE',
      `device 'cuda' was requested but CUDA is not available: ${status.reason ?? 'no reason given'}. ` +
        "Use device: 'cpu', or run on a host with an NVIDIA GPU and a sparq built with `npm run build:cuda`.",
    );
  }
  return status as NativeCudaStatus & { available: true; device: string };
}
