// Keys the CLI installs once at start (from SPARQ_MODEL_KEY / SPARQ_MODEL_VERIFY: env.ts), used by
// loadModel and InferenceSession.create when their options name no key or verify — so every command,
// `sparq serve` included, opens protected models. The library itself reads no environment.
import type { OpenOptions } from './secure.js';

let defaults: OpenOptions = {};

export function defaultProtection(): OpenOptions {
  return defaults;
}

export function setDefaultProtection(options: OpenOptions): void {
  defaults = { ...options };
}
