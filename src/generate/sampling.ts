// Choosing the next token from one row of logits: greedy at temperature 0, else sampling from the
// softmax at that temperature after top-k and top-p (nucleus) filtering, with a repetition penalty
// (CTRL's, as transformers applies it: positive logits divided by it, negative ones multiplied) over the
// tokens the row has seen. Seeded, so a given seed gives the same tokens.
export interface SamplingOptions {
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
}

/** Index of the largest value (the first of ties). */
export function argmax(logits: Float32Array, from: number, count: number): number {
  let best = 0;
  let value = -Infinity;
  for (let i = 0; i < count; i++) {
    const v = logits[from + i];
    if (v > value) {
      value = v;
      best = i;
    }
  }
  return best;
}

/** The next token of one row: logits[from, from + vocab). `seen` holds the row's tokens so far. */
export function nextToken(logits: Float32Array, from: number, vocab: number, o: SamplingOptions, seen: ReadonlySet<number>, random: () => number): number {
  if (o.repetitionPenalty === 1 && o.temperature === 0) return argmax(logits, from, vocab);
  const row = logits.slice(from, from + vocab);
  if (o.repetitionPenalty !== 1)
    for (const t of seen) if (t >= 0 && t < vocab) row[t] = row[t] > 0 ? row[t] / o.repetitionPenalty : row[t] * o.repetitionPenalty;
  if (o.temperature === 0) return argmax(row, 0, vocab);
  // Candidates by decreasing logit; top-k keeps the first k.
  let order = Array.from({ length: vocab }, (_, i) => i).sort((a, b) => row[b] - row[a] || a - b);
  if (o.topK > 0 && o.topK < vocab) order = order.slice(0, o.topK);
  const max = row[order[0]];
  const probs = order.map((i) => Math.exp((row[i] - max) / o.temperature));
  let total = probs.reduce((a, b) => a + b, 0);
  if (o.topP < 1) {
    let mass = 0;
    let keep = 0;
    while (keep < probs.length && mass < o.topP * total) mass += probs[keep++];
    probs.length = Math.max(1, keep);
    total = probs.reduce((a, b) => a + b, 0);
  }
  let r = random() * total;
  for (let i = 0; i < probs.length; i++) {
    r -= probs[i];
    if (r < 0) return order[i];
  }
  return order[probs.length - 1];
}
