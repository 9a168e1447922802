// The public explain(): src/explain (and what it imports) loads on the first call, not with 'sparq'.
import type { ExplainOptions, Explanation } from './explain.js';
import type { Feeds } from './batch-runner.js';
import type { InferenceSession } from '../session.js';
import type { Model } from '../model.js';

export type { ExplainOptions, Explanation, ExplainMethod, Target, TargetSpec, IgMethod } from './explain.js';

/**
 * Attributions of one example's output to its inputs: integrated gradients (default), saliency or
 * occlusion. See ExplainOptions.
 */
export async function explain(modelOrSession: Model | InferenceSession | string | Uint8Array, feeds: Feeds, options: ExplainOptions = {}): Promise<Explanation> {
  const m = await import('./explain.js');
  return m.explain(modelOrSession, feeds, options);
}
