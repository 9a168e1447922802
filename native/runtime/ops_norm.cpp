// Row-wise float drivers: Softmax / LogSoftmax, LayerNormalization and the reductions. Rows that
// are contiguous (inner == 1) go to the ISA table; strided lanes (inner > 1) are handled here with
// loops over the contiguous inner dim.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "sparq/error.h"
#include "sparq/ops.h"
#include "sparq/ops_kernels.h"
#include "sparq/threadpool.h"

namespace sparq {
namespace {

void check_dims(const char* op, int64_t a, int64_t b, int64_t c) {
  if (a < 0 || b < 0 || c < 0) throw invalid_argument(std::string("Expected non-negative sizes for ") + op);
}

// Splits `rows` units of `per_row` work over threads.
template <typename F>
void parallel_rows(int64_t rows, double per_row, int threads, F&& fn) {
  if (rows <= 0) return;
  const int t = threads_for_work(static_cast<double>(rows) * per_row, threads);
  if (t <= 1) return fn(int64_t(0), rows);
  ThreadPool::global().parallel_for(rows, t, std::max<int64_t>(1, rows / (4 * t)), fn);
}

// Softmax over the middle axis of one [axis, inner] slab, vectorised across the contiguous inner dim.
void softmax_slab(const float* x, float* y, int64_t axis, int64_t inner, bool log, float* m, float* s) {
  std::fill(m, m + inner, -INFINITY);
  std::fill(s, s + inner, 0.0f);
  for (int64_t a = 0; a < axis; ++a)
    for (int64_t i = 0; i < inner; ++i) m[i] = x[a * inner + i] > m[i] ? x[a * inner + i] : m[i];
  for (int64_t a = 0; a < axis; ++a)
    for (int64_t i = 0; i < inner; ++i) {
      const float e = std::exp(x[a * inner + i] - m[i]);
      if (!log) y[a * inner + i] = e;
      s[i] += e;
    }
  if (log) {
    for (int64_t i = 0; i < inner; ++i) s[i] = m[i] + std::log(s[i]);
    for (int64_t a = 0; a < axis; ++a)
      for (int64_t i = 0; i < inner; ++i) y[a * inner + i] = x[a * inner + i] - s[i];
  } else {
    for (int64_t i = 0; i < inner; ++i) s[i] = 1.0f / s[i];
    for (int64_t a = 0; a < axis; ++a)
      for (int64_t i = 0; i < inner; ++i) y[a * inner + i] *= s[i];
  }
}

inline float max_nan(float a, float b) { return (a > b || a != a) ? a : b; }
inline float min_nan(float a, float b) { return (a < b || a != a) ? a : b; }

float reduce_init(ReduceOp op) {
  switch (op) {
    case ReduceOp::max: return -INFINITY;
    case ReduceOp::min: return INFINITY;
    case ReduceOp::prod: return 1.0f;
    default: return 0.0f;
  }
}

inline float reduce_step(ReduceOp op, float acc, float v) {
  switch (op) {
    case ReduceOp::max: return max_nan(acc, v);
    case ReduceOp::min: return min_nan(acc, v);
    case ReduceOp::prod: return acc * v;
    case ReduceOp::sum_square: return acc + v * v;
    default: return acc + v;
  }
}

}  // namespace

void softmax(const float* x, float* y, int64_t outer, int64_t axis, int64_t inner, bool log, const OpContext& ctx) {
  check_dims("Softmax", outer, axis, inner);
  if (axis == 0 || inner == 0) return;
  if (inner == 1) {
    const OpsKernels& k = ops_kernels(ctx.isa);
    parallel_rows(outer, 8.0 * static_cast<double>(axis), ctx.threads, [&](int64_t r0, int64_t r1) {
      k.softmax_rows(x + r0 * axis, y + r0 * axis, r1 - r0, axis, log);
    });
    return;
  }
  parallel_rows(outer, 8.0 * static_cast<double>(axis * inner), ctx.threads, [&](int64_t o0, int64_t o1) {
    std::vector<float> m(static_cast<size_t>(inner)), s(static_cast<size_t>(inner));
    for (int64_t o = o0; o < o1; ++o) softmax_slab(x + o * axis * inner, y + o * axis * inner, axis, inner, log, m.data(), s.data());
  });
}

void layer_norm(const float* x, float* y, int64_t rows, int64_t cols, const float* gamma, const float* beta, float eps,
                float* mean_out, float* inv_std_out, const OpContext& ctx) {
  check_dims("LayerNormalization", rows, cols, 0);
  if (!gamma) throw invalid_argument("Expected a scale (gamma) for LayerNormalization");
  const OpsKernels& k = ops_kernels(ctx.isa);
  parallel_rows(rows, 4.0 * static_cast<double>(cols), ctx.threads, [&](int64_t r0, int64_t r1) {
    k.layer_norm_rows(x + r0 * cols, y + r0 * cols, r1 - r0, cols, gamma, beta, eps, mean_out ? mean_out + r0 : nullptr,
                      inv_std_out ? inv_std_out + r0 : nullptr);
  });
}

void reduce(ReduceOp op, const float* x, float* y, int64_t outer, int64_t red, int64_t inner, const OpContext& ctx) {
  check_dims("a reduction", outer, red, inner);
  if (static_cast<int32_t>(op) < 0 || static_cast<int32_t>(op) > static_cast<int32_t>(ReduceOp::sum_square))
    throw invalid_argument("Unknown reduction " + std::to_string(static_cast<int32_t>(op)));
  const float init = reduce_init(op);
  const bool mean = op == ReduceOp::mean;
  const float empty_mean = std::numeric_limits<float>::quiet_NaN();
  parallel_rows(outer, static_cast<double>(red * inner), ctx.threads, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      const float* xo = x + o * red * inner;
      float* yo = y + o * inner;
      if (inner == 1) {
        // One contiguous lane: sums accumulate in double (a mean over thousands of values stays exact to float).
        if (op == ReduceOp::sum || op == ReduceOp::mean || op == ReduceOp::sum_square) {
          double s = 0.0;
          for (int64_t r = 0; r < red; ++r) s += op == ReduceOp::sum_square ? static_cast<double>(xo[r]) * xo[r] : xo[r];
          yo[0] = static_cast<float>(mean ? (red ? s / red : empty_mean) : s);
        } else {
          float acc = init;
          for (int64_t r = 0; r < red; ++r) acc = reduce_step(op, acc, xo[r]);
          yo[0] = acc;
        }
        continue;
      }
      std::fill(yo, yo + inner, init);
      for (int64_t r = 0; r < red; ++r)
        for (int64_t i = 0; i < inner; ++i) yo[i] = reduce_step(op, yo[i], xo[r * inner + i]);
      if (mean)
        for (int64_t i = 0; i < inner; ++i) yo[i] = red ? yo[i] / static_cast<float>(red) : empty_mean;
    }
  });
}

namespace {

// Bit i set when axis i is reduced (all axes when naxes == 0).
unsigned reduce_mask(const Shape& shape, const int64_t* axes, int naxes) {
  if (naxes == 0) return shape.rank ? (1u << shape.rank) - 1u : 0u;
  if (naxes < 0 || !axes) throw invalid_argument("Expected an axes list for a reduction");
  unsigned mask = 0;
  for (int i = 0; i < naxes; ++i) {
    int64_t a = axes[i];
    if (a < -shape.rank || a >= shape.rank)
      throw invalid_argument("Reduction axis " + std::to_string(a) + " is out of range for rank " + std::to_string(shape.rank));
    if (a < 0) a += shape.rank;
    if (mask & (1u << a)) throw invalid_argument("Reduction axis " + std::to_string(a) + " is repeated");
    mask |= 1u << a;
  }
  return mask;
}

}  // namespace

Shape reduce_output_shape(const Shape& shape, const int64_t* axes, int naxes, bool keepdims) {
  const unsigned mask = reduce_mask(shape, axes, naxes);
  Shape out;
  for (int i = 0; i < shape.rank; ++i) {
    if (mask & (1u << i)) {
      if (keepdims) out.dims[out.rank++] = 1;
    } else {
      out.dims[out.rank++] = shape.dims[i];
    }
  }
  return out;
}

void reduce_axes(ReduceOp op, const float* x, const Shape& shape, const int64_t* axes, int naxes, float* y,
                 const OpContext& ctx) {
  const unsigned mask = reduce_mask(shape, axes, naxes);
  // Groups of consecutive reduced / kept dims, innermost last.
  int64_t size[kMaxRank];
  bool reduced[kMaxRank];
  int groups = 0;
  for (int i = 0; i < shape.rank; ++i) {
    const bool r = (mask >> i) & 1u;
    if (groups && reduced[groups - 1] == r) {
      size[groups - 1] *= shape.dims[i];
    } else {
      size[groups] = shape.dims[i];
      reduced[groups] = r;
      ++groups;
    }
  }
  // Reduce the innermost reduced group each pass; after the first pass sum_square continues as sum.
  std::vector<float> a, b;
  const float* src = x;
  ReduceOp pass_op = op;
  int last = groups - 1;
  while (last >= 0 && !reduced[last]) --last;
  if (last < 0) {  // nothing reduced (rank 0 or empty axes on a scalar): copy, or apply the op to one value
    const int64_t n = shape.numel();
    return reduce(op, x, y, n, 1, 1, ctx);
  }
  for (;;) {
    int64_t outer = 1, inner = 1;
    for (int g = 0; g < last; ++g) outer *= size[g];
    for (int g = last + 1; g < groups; ++g) inner *= size[g];
    int prev = last - 1;
    while (prev >= 0 && !reduced[prev]) --prev;
    float* dst = y;
    if (prev >= 0) {
      std::vector<float>& buf = src == a.data() && !a.empty() ? b : a;
      buf.assign(static_cast<size_t>(outer * inner), 0.0f);
      dst = buf.data();
    }
    reduce(pass_op, src, dst, outer, size[last], inner, ctx);
    if (prev < 0) return;
    size[last] = 1;
    src = dst;
    if (pass_op == ReduceOp::sum_square) pass_op = ReduceOp::sum;
    last = prev;
  }
}

}  // namespace sparq
