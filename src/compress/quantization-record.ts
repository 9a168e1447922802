// The quantization record a Model carries in its metadata ('sparq.quantization'): what quantize() did to
// each weight. Its own module, free of the passes, so the file codecs (src/io) read it without importing
// the quantize pass (which calibrates through a session: io -> compress -> session -> io would be a circle).
import { SparqError } from '../errors.js';
import type { Model } from '../model.js';

export const QUANTIZE_MODES = ['dynamic', 'static', 'weight-only'] as const;
export type QuantizeMode = (typeof QUANTIZE_MODES)[number];

/** What quantize() recorded for one weight (Model metadata 'sparq.quantization'). */
export interface WeightQuantization {
  mode: QuantizeMode;
  bits: 8;
  perChannel: boolean;
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
