// What train() and distill() accept as a model and what they hand back: a Model (or ONNX bytes) in, a
// new Model out. Training works on the ONNX form (graph.ts), so any Model that serialises to a
// trainable chain can be trained; the input model is never modified.
import { typeError } from '../errors.js';
import { Model } from '../model.js';
import { loadModelSync } from '../io/model-file.js';

/** A Model, or ONNX bytes. */
export type ModelInput = Model | Uint8Array;

export function modelBytes(model: unknown, name: string): Uint8Array {
  if (model instanceof Uint8Array) return model;
  if (model instanceof Model) return model.toOnnx();
  throw typeError('a Model or ONNX bytes (a Uint8Array)', name, model);
}

export function asModel(model: unknown, name: string): Model {
  if (model instanceof Model) return model;
  if (model instanceof Uint8Array) return loadModelSync(model);
  throw typeError('a Model or ONNX bytes (a Uint8Array)', name, model);
}

/** The trained weights as a new Model. */
export function trainedModel(bytes: Uint8Array): Model {
  return loadModelSync(bytes);
}
