// Concatenation and splitting along dim 0, for batching: inputs of requests whose other dims agree are
// stacked into one tensor, and the outputs cut back into each request's rows.
import { Tensor, arrayTypeOf, type TensorData } from '../tensor.js';

/** Stacks tensors of one type whose dims agree except the first. */
export function concatRows(parts: readonly Tensor[]): Tensor {
  const first = parts[0];
  const rows = parts.reduce((s, t) => s + t.dims[0], 0);
  const data = new (arrayTypeOf(first.type))(parts.reduce((s, t) => s + t.size, 0));
  let offset = 0;
  for (const t of parts) {
    (data as Float32Array).set(t.data as Float32Array, offset);
    offset += t.size;
  }
  return new Tensor(first.type, data as never, [rows, ...first.dims.slice(1)]);
}

/**
 * Cuts every output into consecutive row ranges of the given sizes (views, no copy); undefined when an
 * output's first dim is not the total of the rows.
 */
export function splitRows(outputs: Record<string, Tensor>, rows: readonly number[]): Record<string, Tensor>[] | undefined {
  const total = rows.reduce((s, r) => s + r, 0);
  const parts: Record<string, Tensor>[] = rows.map(() => ({}));
  for (const [name, t] of Object.entries(outputs)) {
    if (t.dims.length === 0 || t.dims[0] !== total) return undefined;
    const per = total === 0 ? 0 : t.size / total;
    let row = 0;
    rows.forEach((r, i) => {
      const data = (t.data as TensorData).subarray(row * per, (row + r) * per);
      parts[i][name] = new Tensor(t.type, data as never, [r, ...t.dims.slice(1)]);
      row += r;
    });
  }
  return parts;
}
