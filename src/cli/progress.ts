// Progress bars on stderr for long work (training, calibration, benchmarking): drawn only on a TTY
// and not with --quiet, so logs and pipes stay clean.
export interface Progress {
  update(done: number, note?: string): void;
  done(note?: string): void;
}

export function progress(label: string, total: number, options: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const enabled = !options.quiet && stream.isTTY === true;
  const started = Date.now();
  let last = 0;
  const draw = (done: number, note = '', final = false) => {
    if (!enabled) return;
    const now = Date.now();
    if (!final && now - last < 80) return;
    last = now;
    const width = 24;
    const frac = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(frac * width);
    const secs = ((now - started) / 1000).toFixed(1);
    stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.round(frac * 100)}% ${secs}s ${note}`.padEnd(100).slice(0, 100) + (final ? '\n' : ''));
  };
  return {
    update: (done, note) => draw(done, note),
    done: (note) => draw(total, note, true),
  };
}
