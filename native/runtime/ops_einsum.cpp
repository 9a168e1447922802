// Einsum of one or two float32 operands as the planner reduces it (src/runtime/plan-einsum.ts): each
// operand transposed so its indices run [batch, free, contracted, summed-alone], the summed-alone
// block added up, one strided batched GEMM, and the result transposed to the output's order. Plan op
// 240:
//   inputs [A] or [A, B]; outputs [Y]
//   ints   [operands, then per operand: rank, perm (rank values), g0, g1, g2, g3 (group sizes:
//          A = batch, M, K, summed; B = batch, K, N, summed), then rank_pre, pre dims, out perm]
//   With one operand, A's groups are (1, output size, 1, summed) and the GEMM is skipped.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "sparq/aligned.h"
#include "sparq/plan_ops.h"
#include "sparq/sgemm.h"

namespace sparq {

namespace {

struct Operand {
  Shape shape;
  int64_t perm[kMaxRank] = {};
  int64_t g[4] = {1, 1, 1, 1};
};

struct EinsumPlan {
  int operands = 1;
  Operand op[2];
  Shape pre;  // the GEMM result [batch dims, M dims, N dims] as individual dims
  int64_t out_perm[kMaxRank] = {};
};

// Reads the ints (validate_einsum checked their count and ranges first).
EinsumPlan read_plan(const std::vector<int64_t>& v) {
  EinsumPlan p;
  size_t i = 0;
  p.operands = static_cast<int>(v[i++]);
  for (int o = 0; o < p.operands; ++o) {
    Operand& x = p.op[o];
    const int r = static_cast<int>(v[i++]);
    x.shape.rank = r;
    for (int d = 0; d < r; ++d) x.perm[d] = v[i++];
    for (int64_t& g : x.g) g = v[i++];
  }
  const int r = static_cast<int>(v[i++]);
  p.pre.rank = r;
  for (int d = 0; d < r; ++d) p.pre.dims[d] = v[i++];
  for (int d = 0; d < r; ++d) p.out_perm[d] = v[i++];
  return p;
}

bool is_identity(const int64_t* perm, int rank) {
  for (int d = 0; d < rank; ++d)
    if (perm[d] != d) return false;
  return true;
}

thread_local AlignedBuffer<float> einsum_scratch;

// x transposed by perm (into `buf`, or x itself when perm is the identity), then the trailing `sum`
// block of every row of `rows` added up into `out` (rows·sum values in, rows out).
const float* arrange(const float* x, const Shape& shape, const int64_t* perm, int64_t sum, float* buf, float* out,
                     const OpContext& ctx) {
  const float* t = x;
  if (!is_identity(perm, shape.rank)) {
    transpose(DType::float32, x, shape, perm, buf, ctx);
    t = buf;
  }
  if (sum == 1) return t;
  const int64_t rows = shape.numel() / sum;
  for (int64_t r = 0; r < rows; ++r) {
    float s = 0.0f;
    for (int64_t j = 0; j < sum; ++j) s += t[r * sum + j];
    out[r] = s;
  }
  return out;
}

void run_einsum(const PlanOp& op, const std::vector<PlanSlot>& slots, void* const* ptr, const OpContext& ctx) {
  EinsumPlan p = read_plan(op.ints);
  for (int o = 0; o < p.operands; ++o) p.op[o].shape = slots[static_cast<size_t>(op.inputs[static_cast<size_t>(o)])].shape;
  float* y = static_cast<float*>(ptr[op.outputs[0]]);
  const bool direct = is_identity(p.out_perm, p.pre.rank);
  // scratch: per operand a transposed copy and its summed form; the GEMM result
  size_t need = 0;
  for (int o = 0; o < p.operands; ++o) need += 2 * static_cast<size_t>(p.op[o].shape.numel());
  need += static_cast<size_t>(p.pre.numel());
  float* s = einsum_scratch.reserve(need + 1);
  const float* a[2] = {nullptr, nullptr};
  for (int o = 0; o < p.operands; ++o) {
    const int64_t n = p.op[o].shape.numel();
    a[o] = arrange(static_cast<const float*>(ptr[op.inputs[static_cast<size_t>(o)]]), p.op[o].shape, p.op[o].perm, p.op[o].g[3], s, s + n, ctx);
    s += 2 * n;
  }
  if (p.operands == 1) {
    std::memcpy(y, a[0], static_cast<size_t>(p.pre.numel()) * sizeof(float));
    return;
  }
  const int64_t B = p.op[0].g[0], M = p.op[0].g[1], K = p.op[0].g[2], N = p.op[1].g[2];
  float* c = direct ? y : s;
  sgemm_strided_batched(false, false, M, N, K, 1.0f, a[0], K, M * K, a[1], N, K * N, 0.0f, c, N, M * N, B, ctx.threads, nullptr, ctx.isa);
  if (!direct) transpose(DType::float32, c, p.pre, p.out_perm, y, ctx);
}

void validate_einsum(const PlanOp& op, const std::vector<PlanSlot>& slots) {
  PlanOpCheck c(op, slots, "Einsum");
  const std::vector<int64_t>& v = op.ints;
  if (v.empty() || (v[0] != 1 && v[0] != 2)) throw c.fail("needs 1 or 2 operands");
  const int n = static_cast<int>(v[0]);
  c.arity(static_cast<size_t>(n), static_cast<size_t>(n), 1, 1);
  size_t i = 1;
  auto next = [&]() {
    if (i >= v.size()) throw c.fail("too few integer attributes");
    return v[i++];
  };
  auto read_perm = [&](int r, int64_t* perm) {
    bool seen[kMaxRank] = {};
    for (int d = 0; d < r; ++d) {
      perm[d] = next();
      if (perm[d] < 0 || perm[d] >= r || seen[perm[d]]) throw c.fail("bad permutation");
      seen[perm[d]] = true;
    }
  };
  int64_t g[2][4];
  for (int o = 0; o < n; ++o) {
    const PlanSlot& s = c.in(static_cast<size_t>(o));
    c.dtype(s, DType::float32, "an operand");
    const int64_t r = next();
    if (r != s.shape.rank) throw c.fail("operand rank mismatch");
    int64_t perm[kMaxRank];
    read_perm(static_cast<int>(r), perm);
    int64_t prod = 1;
    for (int k = 0; k < 4; ++k) {
      g[o][k] = next();
      if (g[o][k] < 0) throw c.fail("negative group size");
      prod *= g[o][k];
    }
    if (prod != s.shape.numel()) throw c.fail("group sizes do not cover the operand");
  }
  const int64_t r = next();
  if (r < 0 || r > kMaxRank) throw c.fail("bad output rank");
  int64_t dims[kMaxRank], perm[kMaxRank];
  for (int d = 0; d < r; ++d) {
    dims[d] = next();
    if (dims[d] < 0) throw c.fail("negative dim");
  }
  read_perm(static_cast<int>(r), perm);
  if (i != v.size()) throw c.fail("too many integer attributes");
  const Shape pre = Shape::of(dims, static_cast<int>(r));
  const int64_t want = n == 1 ? g[0][0] * g[0][1] * g[0][2] : g[0][0] * g[0][1] * g[1][2];
  if (pre.numel() != want) throw c.fail("result size mismatch");
  if (n == 2 && (g[0][0] != g[1][0] || g[0][2] != g[1][1])) throw c.fail("batch or contracted sizes differ between operands");
  c.dtype(c.out(0), DType::float32, "Y");
  c.shape(c.out(0), transpose_output_shape(pre, perm), "Y");
}

}  // namespace

SPARQ_REGISTER_PLAN_OP(einsum, OpCode::einsum, (PlanOpHandler{"Einsum", validate_einsum, run_einsum}));

}  // namespace sparq
