// The CLI's model keys from the environment: SPARQ_MODEL_KEY (64 hex digits or base64 of 32 bytes)
// decrypts, SPARQ_MODEL_VERIFY (PEM public-key files, comma-separated) requires a signature by one of them.
import { readFileSync } from 'node:fs';

import { SparqError } from '../../errors.js';
import { parseKeyText } from './keys.js';
import type { OpenOptions } from './secure.js';

export function protectionFromEnv(env: NodeJS.ProcessEnv): OpenOptions {
  const out: OpenOptions = {};
  if (env.SPARQ_MODEL_KEY) out.key = parseKeyText(env.SPARQ_MODEL_KEY, 'SPARQ_MODEL_KEY');
  if (env.SPARQ_MODEL_VERIFY) {
    out.verify = env.SPARQ_MODEL_VERIFY.split(',').map((p) => {
      try {
        return readFileSync(p.trim(), 'utf8');
      } catch (e) {
        throw new SparqError('ERR_IO', `Cannot read the public key ${p.trim()} named in SPARQ_MODEL_VERIFY: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    });
  }
  return out;
}
