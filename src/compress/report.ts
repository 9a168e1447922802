// The compression report: per layer (params, nonzeros, the kernel format the runtime chose, bytes) and
// for the model (size before / after, ratio, output drift, accuracy). Printable as a table; JSON as is.

export interface LayerReport {
  node: string;
  weight: string;
  K: number;
  N: number;
  params: number;
  nonzeros: number;
  sparsity: number;
  /** 'fp32' or 'int8' (what the weights are stored as). */
  dtype: 'fp32' | 'int8' | 'int4';
  /** Kernel format the session packed this layer into (e.g. 'sparse-int8', 'dense'). */
  format: string;
  /** Bytes of the packed weights in the session. */
  packedBytes: number;
  /** Bytes of the weights in the .sparq file. */
  fileBytes: number;
}

export interface PassReport {
  pass: string;
  options: Record<string, unknown>;
  seconds: number;
}

export interface ModelReport {
  /** ONNX bytes of the original model (fp32, dense). */
  bytesBefore: number;
  /** .sparq bytes of the compressed model. */
  bytesAfter: number;
  /** ONNX bytes of the compressed model as exported for onnxruntime. */
  onnxBytesAfter: number;
  compressionRatio: number;
  params: number;
  nonzeros: number;
  sparsity: number;
  /** Outputs of the compressed vs the original model on the calibration inputs. */
  drift: { cosine: number; maxAbsError: number; relativeError: number } | null;
  accuracyBefore?: number;
  accuracyAfter?: number;
  /** evaluate()'s score, when given. */
  scoreBefore?: number;
  scoreAfter?: number;
}

export class CompressionReport {
  constructor(
    readonly layers: LayerReport[],
    readonly model: ModelReport,
    readonly passes: PassReport[],
  ) {}

  toJSON(): { layers: LayerReport[]; model: ModelReport; passes: PassReport[] } {
    return { layers: this.layers, model: this.model, passes: this.passes.map((p) => ({ ...p, options: jsonSafe(p.options) })) };
  }

  /** A plain-text table. */
  toString(): string {
    const head = ['layer', 'K x N', 'params', 'nonzeros', 'sparsity', 'dtype', 'format', 'packed', 'file'];
    const rows = this.layers.map((l) => [l.node, `${l.K}x${l.N}`, String(l.params), String(l.nonzeros), pct(l.sparsity), l.dtype, l.format, kb(l.packedBytes), kb(l.fileBytes)]);
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]) => r.map((c, i) => (i === 0 || i === 5 || i === 6 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
    const m = this.model;
    const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line), ''];
    out.push(`size: ${kb(m.bytesBefore)} (fp32 ONNX) -> ${kb(m.bytesAfter)} (.sparq), ${m.compressionRatio.toFixed(1)}x smaller; exported ONNX ${kb(m.onnxBytesAfter)}`);
    out.push(`weights: ${m.nonzeros} of ${m.params} kept (${pct(m.sparsity)} sparse)`);
    if (m.drift) out.push(`output drift: cosine ${m.drift.cosine.toFixed(6)}, max abs error ${m.drift.maxAbsError.toExponential(3)}`);
    if (m.accuracyBefore !== undefined) out.push(`accuracy: ${pct(m.accuracyBefore, 2)} -> ${pct(m.accuracyAfter!, 2)} (${((m.accuracyAfter! - m.accuracyBefore) * 100).toFixed(2)} pt)`);
    if (m.scoreBefore !== undefined) out.push(`score: ${m.scoreBefore.toFixed(4)} -> ${m.scoreAfter!.toFixed(4)}`);
    for (const p of this.passes) out.push(`pass ${p.pass}: ${p.seconds.toFixed(2)} s`);
    return out.join('\n');
  }
}

const pct = (v: number, d = 1) => `${(v * 100).toFixed(d)}%`;
const kb = (b: number) => (b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(2)} MiB` : `${(b / 1024).toFixed(1)} KiB`);

/** Options as JSON can hold them (tensors and functions summarised). */
function jsonSafe(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (typeof v === 'function') out[k] = '[function]';
    else if (k === 'calibration' || k === 'data' || k === 'validation') out[k] = '[data]';
    else if (v instanceof RegExp) out[k] = String(v);
    else if (Array.isArray(v)) out[k] = v.map((x) => (x instanceof RegExp ? String(x) : x));
    else if (v && typeof v === 'object' && !(v instanceof AbortSignal)) out[k] = jsonSafe(v as Record<string, unknown>);
    else if (!(v instanceof AbortSignal)) out[k] = v;
  }
  return out;
}
