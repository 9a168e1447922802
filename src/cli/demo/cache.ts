// Where the demo keeps its trained LeNet between runs: $SPARQ_CACHE_DIR, $XDG_CACHE_HOME/sparq or
// ~/.cache/sparq. A cache that can't be written just means training again.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export function cacheDir(): string {
  return process.env.SPARQ_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'sparq');
}

export function readCached(name: string): Uint8Array | undefined {
  try {
    return readFileSync(join(cacheDir(), name));
  } catch {
    return undefined;
  }
}

export function writeCached(name: string, bytes: Uint8Array): void {
  try {
    mkdirSync(cacheDir(), { recursive: true });
    writeFileSync(join(cacheDir(), name), bytes);
  } catch {
    // read-only home, full disk: the next run trains again
  }
}
