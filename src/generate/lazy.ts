// The public generate() and generateStream(): src/generate loads on the first call, not with 'sparq'.
import type { InferenceSession } from '../session.js';
import type { GenerateOptions, GenerateResult, GenerateStep } from './generate.js';

export type { GenerateOptions, GenerateResult, GenerateStep, GenerateTimings, Tokenizer } from './generate.js';

/**
 * Autoregressive decoding over a session of a decoder exported with its KV cache: up to maxNewTokens
 * tokens per prompt row (greedy, or sampled with temperature / topK / topP / repetitionPenalty and a
 * seed), the cache kept in place in native memory. See GenerateOptions.
 */
export async function generate(session: InferenceSession, options: GenerateOptions): Promise<GenerateResult> {
  const m = await import('./generate.js');
  return m.generate(session, options);
}

/** generate() as an async iterator of steps (this step's token of each row), for streaming. */
export async function* generateStream(session: InferenceSession, options: GenerateOptions): AsyncGenerator<GenerateStep> {
  const m = await import('./generate.js');
  yield* m.generateStream(session, options);
}
