// Fused attention (ops.h): per (batch, head) one strided GEMM for the scores (Kᵀ read in place via
// sgemm's transB), the additive mask and a row softmax in a thread-local score block, and one strided
// GEMM into the output view. Threads go over batch·heads, or into the GEMMs when there are fewer.
// Also the decoder's attention over its cache (sparq/kv_cache.h, plan op cache_attention): a decode
// step's single query row takes dot products with the cache rows in place and sums the value rows
// (no transposed copy of K, no GEMM set-up per head); prompts of several rows take the GEMMs.
#include <algorithm>
#include <string>

#include "sparq/aligned.h"
#include "sparq/error.h"
#include "sparq/kv_cache.h"
#include "sparq/ops.h"
#include "sparq/ops_kernels.h"
#include "sparq/plan_ops.h"
#include "sparq/sgemm.h"
#include "sparq/threadpool.h"

namespace sparq {
namespace {

void one_head(int64_t b, int64_t h, int64_t Sq, int64_t Sk, int64_t D, float scale, const float* q, AttentionStrides qs,
              const float* k, AttentionStrides ks, const float* v, AttentionStrides vs, const float* mask,
              AttentionStrides ms, float* out, AttentionStrides os, int threads, Isa isa, const OpsKernels& kern) {
  thread_local AlignedBuffer<float> scratch;
  float* s = scratch.reserve(static_cast<size_t>(std::max<int64_t>(1, Sq * Sk)));
  const float* qb = q + b * qs.batch + h * qs.head;
  const float* kb = k + b * ks.batch + h * ks.head;
  const float* vb = v + b * vs.batch + h * vs.head;
  float* ob = out + b * os.batch + h * os.head;
  sgemm(false, true, Sq, Sk, D, scale, qb, qs.row, kb, ks.row, 0.0f, s, Sk, threads, nullptr, isa);
  if (mask) {
    const float* mb = mask + b * ms.batch + h * ms.head;
    for (int64_t i = 0; i < Sq; ++i) kern.binary_f32(BinaryOp::add, s + i * Sk, 1, mb + i * ms.row, 1, s + i * Sk, Sk);
  }
  kern.softmax_rows(s, s, Sq, Sk, false);
  sgemm(false, false, Sq, D, Sk, 1.0f, s, Sk, vb, vs.row, 0.0f, ob, os.row, threads, nullptr, isa);
}

// Element strides of a tensor broadcast to [B, H, S, T] (right-aligned; 0 along a dim of 1 or a missing one).
struct Broadcast4 {
  int64_t b = 0, h = 0, i = 0, j = 0;
};

Broadcast4 broadcast4(const Shape& s) {
  int64_t st[4] = {0, 0, 0, 0};
  int64_t stride = 1;
  for (int d = s.rank - 1, o = 3; d >= 0; --d, --o) {
    st[o] = s.dims[d] == 1 ? 0 : stride;
    stride *= s.dims[d];
  }
  return {st[0], st[1], st[2], st[3]};
}

// Dot product in eight lanes (the compiler vectorises the lane loop), summed pairwise.
inline float dot_lanes(const float* a, const float* b, int64_t n) {
  float acc[8] = {};
  int64_t d = 0;
  for (; d + 8 <= n; d += 8)
    for (int l = 0; l < 8; ++l) acc[l] += a[d + l] * b[d + l];
  float sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; d < n; ++d) sum += a[d] * b[d];
  return sum;
}

// Rows of at most this many queries take the dot-product loops; longer prompts the GEMMs.
constexpr int64_t kCacheAttentionLoopRows = 4;

void cache_attention_head(const CacheAttentionArgs& a, int64_t b, int64_t h, const Broadcast4& cs, const Broadcast4& ms,
                          Isa isa, const OpsKernels& kern) {
  const int64_t S = a.S, T = a.T, D = a.D, Dv = a.Dv;
  thread_local AlignedBuffer<float> scratch;
  float* s = scratch.reserve(static_cast<size_t>(std::max<int64_t>(1, S * T)));
  const int64_t plane = b * a.H + h;
  const float* q = a.q + plane * S * D;
  const float* k = a.k + plane * T * D;
  const float* v = a.v + plane * T * Dv;
  float* out = a.out + plane * S * Dv;
  const bool loops = S <= kCacheAttentionLoopRows;
  if (loops) {
    for (int64_t i = 0; i < S; ++i)
      for (int64_t j = 0; j < T; ++j) s[i * T + j] = dot_lanes(q + i * D, k + j * D, D);
  } else {
    sgemm(false, true, S, T, D, 1.0f, q, D, k, D, 0.0f, s, T, 1, nullptr, isa);
  }
  const bool* cond = a.cond ? a.cond + b * cs.b + h * cs.h : nullptr;
  const float* mask = a.mask ? a.mask + b * ms.b + h * ms.h : nullptr;
  for (int64_t i = 0; i < S; ++i) {
    float* row = s + i * T;
    if (a.scale_op == 1) {
      for (int64_t j = 0; j < T; ++j) row[j] *= a.scale;
    } else if (a.scale_op == 2) {
      for (int64_t j = 0; j < T; ++j) row[j] /= a.scale;
    }
    if (cond) {
      const bool* c = cond + i * cs.i;
      for (int64_t j = 0; j < T; ++j)
        if (!c[j * cs.j]) row[j] = a.fill;
    }
    if (mask) {
      const float* m = mask + i * ms.i;
      for (int64_t j = 0; j < T; ++j) row[j] += m[j * ms.j];
    }
  }
  kern.softmax_rows(s, s, S, T, false);
  if (loops) {
    for (int64_t i = 0; i < S; ++i) {
      float* o = out + i * Dv;
      std::fill(o, o + Dv, 0.0f);
      const float* p = s + i * T;
      for (int64_t j = 0; j < T; ++j) {
        const float w = p[j];
        const float* vj = v + j * Dv;
        for (int64_t d = 0; d < Dv; ++d) o[d] += w * vj[d];
      }
    }
  } else {
    sgemm(false, false, S, Dv, T, 1.0f, s, T, v, Dv, 0.0f, out, Dv, 1, nullptr, isa);
  }
}

void validate_cache_attention(const PlanOp& op, const std::vector<PlanSlot>& slots) {
  const PlanOpCheck c(op, slots, "CacheAttention");
  c.arity(3, 5, 1, 1);
  for (size_t i = 0; i < 3; ++i) c.dtype(c.in(i), DType::float32, i == 0 ? "Q" : i == 1 ? "K" : "V");
  c.dtype(c.out(0), DType::float32, "the output");
  const Shape& q = c.in(0).shape;
  const Shape& k = c.in(1).shape;
  const Shape& v = c.in(2).shape;
  if (q.rank != 4 || k.rank != 4 || v.rank != 4) throw c.fail("Q, K and V must be [batch, heads, rows, head_dim]");
  if (k[0] != q[0] || k[1] != q[1] || k[3] != q[3]) throw c.fail("K " + k.str() + " does not match Q " + q.str());
  if (v[0] != q[0] || v[1] != q[1] || v[2] != k[2]) throw c.fail("V " + v.str() + " does not match K " + k.str());
  c.shape(c.out(0), Shape{q[0], q[1], q[2], v[3]}, "the output");
  if (c.has(3)) {
    c.dtype(c.in(3), DType::boolean, "the condition");
    if (!cache_attention_broadcasts(c.in(3).shape, q[0], q[1], q[2], k[2])) throw c.fail("the condition does not broadcast to the scores");
  }
  if (c.has(4)) {
    c.dtype(c.in(4), DType::float32, "the mask");
    if (!cache_attention_broadcasts(c.in(4).shape, q[0], q[1], q[2], k[2])) throw c.fail("the mask does not broadcast to the scores");
  }
  const int64_t scale_op = c.ints(0);
  if (scale_op < 0 || scale_op > 2) throw c.fail("unknown scale operation");
  if (op.floats.size() != 2) throw c.fail("needs the scale and the fill value");
}

void run_cache_attention(const PlanOp& op, const std::vector<PlanSlot>& slots, void* const* ptr, const OpContext& ctx) {
  auto slot = [&](size_t i) -> const PlanSlot& { return slots[static_cast<size_t>(op.inputs[i])]; };
  auto has = [&](size_t i) { return i < op.inputs.size() && op.inputs[i] >= 0; };
  const Shape& q = slot(0).shape;
  CacheAttentionArgs a;
  a.B = q[0], a.H = q[1], a.S = q[2], a.D = q[3], a.T = slot(1).shape[2], a.Dv = slot(2).shape[3];
  a.q = static_cast<const float*>(ptr[op.inputs[0]]);
  a.k = static_cast<const float*>(ptr[op.inputs[1]]);
  a.v = static_cast<const float*>(ptr[op.inputs[2]]);
  if (has(3)) a.cond = static_cast<const bool*>(ptr[op.inputs[3]]), a.cond_shape = slot(3).shape;
  if (has(4)) a.mask = static_cast<const float*>(ptr[op.inputs[4]]), a.mask_shape = slot(4).shape;
  a.scale_op = static_cast<int>(op.ints[0]);
  a.scale = op.floats[0];
  a.fill = op.floats[1];
  a.out = static_cast<float*>(ptr[op.outputs[0]]);
  cache_attention(a, ctx.threads, ctx.isa);
}

}  // namespace

bool cache_attention_broadcasts(const Shape& s, int64_t B, int64_t H, int64_t S, int64_t T) {
  if (s.rank > 4) return false;
  const int64_t want[4] = {B, H, S, T};
  for (int d = s.rank - 1, o = 3; d >= 0; --d, --o)
    if (s.dims[d] != 1 && s.dims[d] != want[o]) return false;
  return true;
}

void cache_attention(const CacheAttentionArgs& a, int threads, Isa isa) {
  const int64_t n = a.B * a.H;
  if (n == 0 || a.S == 0 || a.Dv == 0) return;
  if (a.T == 0) {  // nothing to attend to: softmax of an empty row, no terms
    std::fill(a.out, a.out + n * a.S * a.Dv, 0.0f);
    return;
  }
  const OpsKernels& kern = ops_kernels(isa);
  const Broadcast4 cs = a.cond ? broadcast4(a.cond_shape) : Broadcast4{};
  const Broadcast4 ms = a.mask ? broadcast4(a.mask_shape) : Broadcast4{};
  const int pool = ThreadPool::global().size();
  const int t = threads_for_work(static_cast<double>(n) * a.S * a.T * (a.D + a.Dv), threads <= 0 ? pool : threads);
  ThreadPool::global().parallel_for(n, std::max(1, t), std::max<int64_t>(1, n / (2 * std::max(1, t))), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) cache_attention_head(a, i / a.H, i % a.H, cs, ms, isa, kern);
  });
}

void attention(int64_t batch, int64_t heads, int64_t seq_q, int64_t seq_k, int64_t head_dim, float scale,
               const float* q, AttentionStrides qs, const float* k, AttentionStrides ks, const float* v,
               AttentionStrides vs, const float* mask, AttentionStrides ms, float* out, AttentionStrides os,
               const OpContext& ctx) {
  if (batch < 0 || heads < 0 || seq_q < 0 || seq_k < 0 || head_dim < 0)
    throw invalid_argument("Attention: expected non-negative sizes");
  if (qs.row < head_dim || ks.row < head_dim || vs.row < head_dim || os.row < head_dim || (mask && ms.row < 0))
    throw invalid_argument("Attention: row strides must be at least head_dim (" + std::to_string(head_dim) + ")");
  const int64_t n = batch * heads;
  if (n == 0 || seq_q == 0 || head_dim == 0) return;  // no output element
  const OpsKernels& kern = ops_kernels(ctx.isa);
  const int pool = ThreadPool::global().size();
  const int t = threads_for_work(2.0 * static_cast<double>(n) * seq_q * seq_k * head_dim, ctx.threads <= 0 ? pool : ctx.threads);
  if (n >= t) {
    ThreadPool::global().parallel_for(n, t, std::max<int64_t>(1, n / (2 * t)), [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i)
        one_head(i / heads, i % heads, seq_q, seq_k, head_dim, scale, q, qs, k, ks, v, vs, mask, ms, out, os, 1, ctx.isa,
                 kern);
    });
  } else {
    for (int64_t i = 0; i < n; ++i)
      one_head(i / heads, i % heads, seq_q, seq_k, head_dim, scale, q, qs, k, ks, v, vs, mask, ms, out, os, t, ctx.isa,
               kern);
  }
}

SPARQ_REGISTER_PLAN_OP(cache_attention, OpCode::cache_attention,
                       (PlanOpHandler{"CacheAttention", validate_cache_attention, run_cache_attention}));

}  // namespace sparq
