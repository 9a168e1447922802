// ONNX sparse_initializer (SparseTensorProto) → a dense constant, as onnxruntime does at load. sparq's
// ONNX export writes pruned weights this way (smaller files); reading them back must work too.
import { SparqError } from '../errors.js';
import { type ConstTensor, allocData, freezeTensor } from '../graph/ir.js';
import onnxProto from 'onnx-proto';
import { toNumber } from './proto.js';

type ISparseTensorProto = onnxProto.onnx.ISparseTensorProto;
type Decode = (t: NonNullable<ISparseTensorProto['values']>, what: string) => ConstTensor;

function invalid(message: string): SparqError {
  return new SparqError('ERR_INVALID_MODEL', `Invalid ONNX model: ${message}`);
}

/** Densifies one sparse initializer: values [NNZ], indices int64 [NNZ] (linear) or [NNZ, rank] (coordinates). */
export function densifySparseInitializer(s: ISparseTensorProto, decode: Decode): { name: string; tensor: ConstTensor } {
  if (!s.values?.name) throw invalid('a sparse initializer has no name');
  const name = s.values.name;
  const what = `sparse initializer "${name}"`;
  const values = decode(s.values, what);
  const dims = (s.dims ?? []).map((d) => toNumber(d));
  let count = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw invalid(`${what} has dims [${dims.join(', ')}]`);
    count *= d;
  }
  if (count > 2 ** 31 - 1) throw invalid(`${what} is too large to allocate`);
  const nnz = values.data.length;
  const dense = allocData(values.dtype, count);
  if (nnz > 0) {
    if (!s.indices) throw invalid(`${what} has values but no indices`);
    const idx = decode(s.indices, `${what}'s indices`);
    if (idx.dtype !== 'int64') throw invalid(`${what} has ${idx.dtype} indices (int64 expected)`);
    const ix = idx.data as BigInt64Array;
    const rank = dims.length;
    const linear = idx.dims.length === 1;
    if (linear ? ix.length !== nnz : idx.dims.length !== 2 || idx.dims[0] !== nnz || idx.dims[1] !== rank) throw invalid(`${what} has indices of dims [${idx.dims.join(', ')}] for ${nnz} values`);
    for (let i = 0; i < nnz; i++) {
      let at = 0;
      if (linear) at = Number(ix[i]);
      else
        for (let d = 0; d < rank; d++) {
          const c = Number(ix[i * rank + d]);
          if (!(c >= 0 && c < dims[d])) throw invalid(`${what} has an index out of range`);
          at = at * dims[d] + c;
        }
      if (!(at >= 0 && at < count)) throw invalid(`${what} has an index out of range`);
      (dense as Float32Array)[at] = (values.data as Float32Array)[i];
    }
  }
  return { name, tensor: freezeTensor({ dtype: values.dtype, dims, data: dense }) };
}
