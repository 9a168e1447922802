// The CUDA device check the runtime uses before it accepts `device: 'cuda'`: one clear error, with
// the reason the addon gives (a CPU-only build, no GPU, no driver, a driver too old...).
import { backend } from './backend.js';
import { SparqError } from './errors.js';
import type { WeightFormatSpec } from './model.js';
import type { NativeCudaStatus } from './native.js';

/** Weight formats that live on the GPU (kernels.pack's options.format). */
export const CUDA_FORMATS = ['cuda-f32', 'cuda-f16', 'cuda-int8', 'cuda-sparse', 'cuda-block', 'cuda-2:4', 'cuda-auto'] as const;

/** CPU formats whose weights quantize() made int8: on the GPU they stay int8 ('cuda-int8' or 'cuda-2:4'). */
const INT8_FORMATS = new Set(['int8', 'sparse-int8']);
/** The other CPU formats, which the GPU serves with 'cuda-auto'. */
const FP32_FORMATS = new Set(['sparse', 'block', '2:4', 'auto']);

/**
 * The GPU format for a weight a session on device 'cuda' packs, from the CPU format the model (or
 * options.weightFormat) assigns it: a 'cuda-*' name is kept; 'dense' becomes 'cuda-f16' (fp16 tensor
 * cores, fp32 accumulation); int8 formats become 'cuda-auto' with int8 (2:4 sparse tensor cores when the
 * weight is 2:4 along K, else dense int8 tensor cores, or sparse fp16 from 90% zeros); any other
 * CPU format (sparse, block, 2:4, auto, unassigned) becomes 'cuda-auto' (fp16 tensor cores, or the sparse fp16
 * kernels from 70% zeros). The native side chooses (sparq::cuda::choose_device_format) and the packed
 * weights report the format it chose.
 */
export function cudaFormatFor(spec: WeightFormatSpec | undefined): WeightFormatSpec {
  if (!spec || FP32_FORMATS.has(spec.format)) return { format: 'cuda-auto' };
  if (spec.format === 'dense') return { format: 'cuda-f16' };
  if (INT8_FORMATS.has(spec.format)) return { format: 'cuda-auto', options: { int8: true } };
  return spec;  // a 'cuda-*' name, or one the native side rejects with the list of formats
}

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
