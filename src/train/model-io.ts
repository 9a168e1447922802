// What train() and distill() accept as a model and what they hand back. A model is ONNX bytes or any
// object that serialises itself to ONNX (toOnnx()); results come back in the same form they came in.
import { typeError } from '../errors.js';

/** ONNX bytes, or a model object that can write itself as ONNX. */
export type ModelInput = Uint8Array | { toOnnx(): Uint8Array };

export function modelBytes(model: unknown, name: string): Uint8Array {
  if (model instanceof Uint8Array) return model;
  if (model !== null && typeof model === 'object' && typeof (model as { toOnnx?: unknown }).toOnnx === 'function') {
    const bytes = (model as { toOnnx(): unknown }).toOnnx();
    if (bytes instanceof Uint8Array) return bytes;
  }
  throw typeError('ONNX bytes (a Uint8Array) or a Model', name, model);
}
