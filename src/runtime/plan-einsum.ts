// Lowers Einsum (src/graph/einsum.ts) to the native einsum op (native/runtime/ops_einsum.cpp): one
// operand is a transpose plus sums; two are each transposed to [batch, free, contracted, summed-alone],
// summed, multiplied by one strided batched GEMM and transposed to the output's order.
import { SparqError } from '../errors.js';
import type { Node } from '../graph/ir.js';
import { parseEinsum } from '../graph/einsum.js';
import { OpCode } from './opcodes.js';
import type { OpSpec } from './plan.js';

function unsupported(node: Node, what: string): SparqError {
  return new SparqError('ERR_UNSUPPORTED_OP', `Einsum node "${node.name}" ${what}, which sparq does not support`);
}

const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

export function lowerEinsum(node: Node, spec: OpSpec, dimsOf: (slot: number) => readonly number[]): OpSpec {
  const dims = spec.inputs.map((s) => dimsOf(s));
  const p = parseEinsum(node, dims.map((d) => d.length));
  if (p.inputs.length > 2) throw unsupported(node, `has ${p.inputs.length} operands (sparq runs 1 or 2)`);
  const size = new Map<string, number>();
  p.inputs.forEach((letters, i) => {
    if (new Set(letters).size !== letters.length) throw unsupported(node, 'takes a diagonal (an index repeated within an operand)');
    letters.forEach((c, d) => {
      const had = size.get(c);
      if (had !== undefined && had !== dims[i][d]) throw unsupported(node, `broadcasts index "${c}" (${had} against ${dims[i][d]})`);
      size.set(c, dims[i][d]);
    });
  });
  const sz = (cs: string[]) => prod(cs.map((c) => size.get(c) as number));
  const permOf = (letters: string[], order: string[]) => order.map((c) => letters.indexOf(c));
  const out = p.output;
  if (p.inputs.length === 1) {
    const a = p.inputs[0];
    const summed = a.filter((c) => !out.includes(c));
    const ints = [1, a.length, ...permOf(a, [...out, ...summed]), 1, sz(out), 1, sz(summed), out.length, ...out.map((c) => size.get(c) as number), ...out.map((_, i) => i)];
    return { ...spec, op: OpCode.Einsum, ints };
  }
  const [a, b] = p.inputs;
  const inA = new Set(a), inB = new Set(b), inOut = new Set(out);
  const batch = out.filter((c) => inA.has(c) && inB.has(c));
  const m = out.filter((c) => inA.has(c) && !inB.has(c));
  const n = out.filter((c) => inB.has(c) && !inA.has(c));
  const k = a.filter((c) => inB.has(c) && !inOut.has(c));
  const sumA = a.filter((c) => !inB.has(c) && !inOut.has(c));
  const sumB = b.filter((c) => !inA.has(c) && !inOut.has(c));
  const pre = [...batch, ...m, ...n];
  const ints = [
    2,
    a.length, ...permOf(a, [...batch, ...m, ...k, ...sumA]), sz(batch), sz(m), sz(k), sz(sumA),
    b.length, ...permOf(b, [...batch, ...k, ...n, ...sumB]), sz(batch), sz(k), sz(n), sz(sumB),
    pre.length, ...pre.map((c) => size.get(c) as number), ...out.map((c) => pre.indexOf(c)),
  ];
  return { ...spec, op: OpCode.Einsum, ints };
}

/** Multiply-adds of a two-operand Einsum (its GEMM), else its output size. */
export function einsumWork(spec: OpSpec): number {
  const v = spec.ints;
  if (v[0] !== 2) return 0;
  const ra = v[1];
  const [bt, m, k] = v.slice(2 + ra, 5 + ra);
  const rb = v[6 + ra];
  const nn = v[6 + ra + 1 + rb + 2];
  return bt * m * k * nn;
}
