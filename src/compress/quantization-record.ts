// What quantize() records in a Model's metadata, and how it is read back: in a module of its own, since
// loading a model (.sparq, ONNX export) reads it without needing the quantize pass itself.
import { SparqError } from '../errors.js';
import type { Model } from '../model.js';
import type { QuantizeMode } from './quantize.js';

/** What quantize() recorded for one weight (Model metadata 'sparq.quantization'). */
export interface WeightQuantization {
  mode: QuantizeMode;
  bits: 4 | 8;
  perChannel: boolean;
  /** Group-wise weight-only: k per scale, and whether the zero point is fixed. */
  groupSize?: number;
  symmetric?: boolean;
  /** 'static': the layer input's u8 parameters. */
  input?: { scale: number; zeroPoint: number };
}

export const QUANTIZATION_KEY = 'sparq.quantization';

/** The quantization record of a model's weights (empty when none). */
export function quantizationOf(model: Model): Map<string, WeightQuantization> {
  const raw = model.metadata[QUANTIZATION_KEY];
  if (!raw) return new Map();
  try {
    return new Map(Object.entries(JSON.parse(raw) as Record<string, WeightQuantization>));
  } catch {
    throw new SparqError('ERR_INVALID_MODEL', `Invalid model metadata: "${QUANTIZATION_KEY}" is not JSON`);
  }
}

export function withQuantization(metadata: Readonly<Record<string, string>>, q: ReadonlyMap<string, WeightQuantization>): Record<string, string> {
  const md = { ...metadata };
  if (q.size > 0) md[QUANTIZATION_KEY] = JSON.stringify(Object.fromEntries(q));
  else delete md[QUANTIZATION_KEY];
  return md;
}
