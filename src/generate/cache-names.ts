// Which graph inputs and outputs are a decoder's KV cache, by the names exporters give them:
// Hugging Face optimum's past_key_values.N.key / .value → present.N.key / .value, and the older
// past_key_N / past_value_N → present_key_N / present_value_N.
import type { ValueInfo } from '../graph/ir.js';

export interface CachePair {
  layer: number;
  kind: 'key' | 'value';
  /** The graph input holding the past. */
  past: string;
  /** The graph output holding past + new. */
  present: string;
}

const PATTERNS: { past: RegExp; present: (layer: string, kind: string) => string }[] = [
  { past: /^past_key_values\.(\d+)\.(key|value)$/, present: (l, k) => `present.${l}.${k}` },
  { past: /^past_(key|value)_(\d+)$/, present: (l, k) => `present_${k}_${l}` },
];

/** The cache pairs of a graph, ordered by layer then key before value; [] when it has none. */
export function findCachePairs(inputs: readonly ValueInfo[], outputs: readonly ValueInfo[]): CachePair[] {
  const outNames = new Set(outputs.map((o) => o.name));
  const pairs: CachePair[] = [];
  for (const input of inputs) {
    for (const [i, p] of PATTERNS.entries()) {
      const m = p.past.exec(input.name);
      if (!m) continue;
      const [layer, kind] = i === 0 ? [m[1], m[2]] : [m[2], m[1]];
      const present = p.present(layer, kind);
      if (outNames.has(present)) pairs.push({ layer: Number(layer), kind: kind as 'key' | 'value', past: input.name, present });
    }
  }
  return pairs.sort((a, b) => a.layer - b.layer || a.kind.localeCompare(b.kind));
}
