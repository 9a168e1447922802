// Data movement ops on any dtype (only the element size matters): Transpose, Gather, Slice, Concat,
// Split. Shapes, axes and indices are validated before anything is written.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "sparq/error.h"
#include "sparq/ops.h"
#include "sparq/threadpool.h"

namespace sparq {
namespace {

int64_t normalize_axis(int64_t axis, int rank, const char* op) {
  if (axis < -rank || axis >= rank)
    throw invalid_argument(std::string(op) + ": axis " + std::to_string(axis) + " is out of range for rank " +
                           std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

template <typename F>
void parallel_items(int64_t n, double per_item, int threads, F&& fn) {
  if (n <= 0) return;
  const int t = threads_for_work(static_cast<double>(n) * per_item, threads);
  if (t <= 1) return fn(int64_t(0), n);
  ThreadPool::global().parallel_for(n, t, std::max<int64_t>(1, n / (4 * t)), fn);
}

// Transpose of coalesced dims with a tile over (the input's innermost dim, the output's innermost dim)
// so both sides are read and written in cache-line runs.
template <typename T>
void transpose_typed(const T* x, T* y, int rank, const int64_t* in_dims, const int64_t* perm, int threads) {
  int64_t in_st[kMaxRank], out_dims[kMaxRank], out_st[kMaxRank];
  {
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; --i) in_st[i] = s, s *= in_dims[i];
    for (int i = 0; i < rank; ++i) out_dims[i] = in_dims[perm[i]];
    s = 1;
    for (int i = rank - 1; i >= 0; --i) out_st[i] = s, s *= out_dims[i];
  }
  // Output dim q holds the input's innermost dim; the output's innermost dim is input dim p.
  const int last = rank - 1;
  int q = 0;
  while (perm[q] != last) ++q;
  const int p = static_cast<int>(perm[last]);
  const int64_t nq = in_dims[last], np = in_dims[p];  // tile extents
  const int64_t in_sp = in_st[p], out_sq = out_st[q];
  // The other output dims, iterated as an outer index.
  int other[kMaxRank], n_other = 0;
  int64_t outer = 1;
  for (int i = 0; i < rank; ++i)
    if (i != q && i != last) other[n_other++] = i, outer *= out_dims[i];
  constexpr int64_t kTile = 32;
  const int64_t qblocks = (nq + kTile - 1) / kTile;
  parallel_items(outer * qblocks, static_cast<double>(kTile * np), threads, [&](int64_t w0, int64_t w1) {
    for (int64_t w = w0; w < w1; ++w) {
      int64_t o = w / qblocks, in_off = 0, out_off = 0;
      const int64_t qb = (w % qblocks) * kTile, qe = std::min(nq, qb + kTile);
      for (int k = n_other - 1; k >= 0; --k) {
        const int d = other[k];
        const int64_t i = o % out_dims[d];
        o /= out_dims[d];
        out_off += i * out_st[d];
        in_off += i * in_st[perm[d]];
      }
      for (int64_t pb = 0; pb < np; pb += kTile) {
        const int64_t pe = std::min(np, pb + kTile);
        for (int64_t iq = qb; iq < qe; ++iq) {
          T* dst = y + out_off + iq * out_sq;
          const T* src = x + in_off + iq;
          for (int64_t ip = pb; ip < pe; ++ip) dst[ip] = src[ip * in_sp];
        }
      }
    }
  });
}

}  // namespace

Shape transpose_output_shape(const Shape& shape, const int64_t* perm) {
  Shape out;
  out.rank = shape.rank;
  unsigned seen = 0;
  for (int i = 0; i < shape.rank; ++i) {
    const int64_t p = perm ? perm[i] : shape.rank - 1 - i;
    if (p < 0 || p >= shape.rank || (seen & (1u << p)))
      throw invalid_argument("Transpose: perm is not a permutation of 0.." + std::to_string(shape.rank - 1));
    seen |= 1u << p;
    out.dims[i] = shape.dims[p];
  }
  return out;
}

void transpose(DType dtype, const void* x, const Shape& shape, const int64_t* perm, void* y, const OpContext& ctx) {
  transpose_output_shape(shape, perm);  // validates perm
  const size_t es = dtype_size(dtype);
  const int64_t n = shape.numel();
  if (n == 0) return;
  int64_t full_perm[kMaxRank];
  for (int i = 0; i < shape.rank; ++i) full_perm[i] = perm ? perm[i] : shape.rank - 1 - i;
  // Coalesce: drop size-1 dims, then merge input dims that stay adjacent and in order in the output.
  int map[kMaxRank];
  int kept = 0;
  int64_t kdims[kMaxRank];
  for (int i = 0; i < shape.rank; ++i) map[i] = shape.dims[i] == 1 ? -1 : kept++;
  for (int i = 0; i < shape.rank; ++i)
    if (map[i] >= 0) kdims[map[i]] = shape.dims[i];
  int64_t kperm[kMaxRank];
  int kp = 0;
  for (int i = 0; i < shape.rank; ++i)
    if (map[full_perm[i]] >= 0) kperm[kp++] = map[full_perm[i]];
  // Merge runs kperm[j+1] == kperm[j] + 1.
  int group_of[kMaxRank];
  int64_t gdims[kMaxRank];
  int groups = 0;
  for (int j = 0; j < kp; ++j) {
    if (j > 0 && kperm[j] == kperm[j - 1] + 1) {
      group_of[kperm[j]] = group_of[kperm[j - 1]];
    } else {
      group_of[kperm[j]] = groups++;
    }
  }
  // Group dims in input order, and the permutation of groups.
  int64_t gin_order[kMaxRank];
  int ng = 0;
  for (int i = 0; i < kept; ++i) {
    if (i > 0 && group_of[i] == group_of[i - 1]) {
      gdims[ng - 1] *= kdims[i];
    } else {
      gin_order[ng] = group_of[i];
      gdims[ng++] = kdims[i];
    }
  }
  // gperm[out position g] = input group index holding output group g.
  int64_t gperm[kMaxRank];
  for (int i = 0; i < ng; ++i) gperm[gin_order[i]] = i;
  const int threads = ctx.threads;
  if (ng <= 1 || gperm[ng - 1] == ng - 1) {
    // Identity, or the innermost group stays innermost: copy runs of it.
    const int64_t run = ng ? gdims[ng - 1] : 1;
    if (ng <= 1) {
      std::memcpy(y, x, es * static_cast<size_t>(n));
      return;
    }
    int64_t in_st[kMaxRank], out_dims[kMaxRank];
    int64_t s = 1;
    for (int i = ng - 1; i >= 0; --i) in_st[i] = s, s *= gdims[i];
    for (int i = 0; i < ng; ++i) out_dims[i] = gdims[gperm[i]];
    const auto* src = static_cast<const uint8_t*>(x);
    auto* dst = static_cast<uint8_t*>(y);
    const int64_t rows = n / run;
    parallel_items(rows, static_cast<double>(run), threads, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        int64_t o = r, off = 0;
        for (int d = ng - 2; d >= 0; --d) {
          const int64_t i = o % out_dims[d];
          o /= out_dims[d];
          off += i * in_st[gperm[d]];
        }
        std::memcpy(dst + r * run * es, src + off * es, es * static_cast<size_t>(run));
      }
    });
    return;
  }
  switch (es) {
    case 1: return transpose_typed(static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y), ng, gdims, gperm, threads);
    case 4: return transpose_typed(static_cast<const uint32_t*>(x), static_cast<uint32_t*>(y), ng, gdims, gperm, threads);
    default: return transpose_typed(static_cast<const uint64_t*>(x), static_cast<uint64_t*>(y), ng, gdims, gperm, threads);
  }
}

Shape gather_output_shape(const Shape& data, int64_t axis, const Shape& indices) {
  if (data.rank == 0) throw invalid_argument("Gather: data must have rank >= 1");
  const int64_t a = normalize_axis(axis, data.rank, "Gather");
  if (data.rank - 1 + indices.rank > kMaxRank) throw invalid_argument("Gather: output rank exceeds 8");
  Shape out;
  for (int i = 0; i < a; ++i) out.dims[out.rank++] = data.dims[i];
  for (int i = 0; i < indices.rank; ++i) out.dims[out.rank++] = indices.dims[i];
  for (int i = static_cast<int>(a) + 1; i < data.rank; ++i) out.dims[out.rank++] = data.dims[i];
  return out;
}

void gather(DType dtype, const void* data, const Shape& data_shape, int64_t axis, DType index_type, const void* indices,
            const Shape& indices_shape, void* out, const OpContext& ctx) {
  gather_output_shape(data_shape, axis, indices_shape);
  const int a = static_cast<int>(normalize_axis(axis, data_shape.rank, "Gather"));
  if (index_type != DType::int64 && index_type != DType::int32)
    throw Error("ERR_UNSUPPORTED_DTYPE", std::string("Gather indices must be int64 or int32, not ") + dtype_name(index_type));
  const size_t es = dtype_size(dtype);
  const int64_t dim = data_shape.dims[a], outer = data_shape.prod(0, a), inner = data_shape.prod(a + 1, data_shape.rank);
  const int64_t n = indices_shape.numel();
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int64_t v = index_type == DType::int64 ? static_cast<const int64_t*>(indices)[i]
                                           : static_cast<const int32_t*>(indices)[i];
    if (v < -dim || v >= dim)
      throw Error("ERR_INDEX_OUT_OF_RANGE", "Gather: index " + std::to_string(v) + " is out of range for axis " +
                                                std::to_string(a) + " of size " + std::to_string(dim));
    idx[static_cast<size_t>(i)] = v < 0 ? v + dim : v;
  }
  const auto* src = static_cast<const uint8_t*>(data);
  auto* dst = static_cast<uint8_t*>(out);
  const size_t row = es * static_cast<size_t>(inner);
  parallel_items(outer * n, static_cast<double>(inner), ctx.threads, [&](int64_t w0, int64_t w1) {
    for (int64_t w = w0; w < w1; ++w) {
      const int64_t o = w / n, i = w % n;
      std::memcpy(dst + static_cast<size_t>(w) * row, src + static_cast<size_t>(o * dim + idx[static_cast<size_t>(i)]) * row, row);
    }
  });
}

SlicePlan slice_plan(const Shape& in, const int64_t* starts, const int64_t* ends, const int64_t* axes,
                     const int64_t* steps, int n) {
  if (n < 0 || n > in.rank) throw invalid_argument("Slice: expected at most rank (" + std::to_string(in.rank) + ") axes");
  SlicePlan plan;
  plan.out = in;
  for (int i = 0; i < in.rank; ++i) plan.step[i] = 1;
  unsigned seen = 0;
  for (int i = 0; i < n; ++i) {
    const int64_t a = normalize_axis(axes ? axes[i] : i, in.rank, "Slice");
    if (seen & (1u << a)) throw invalid_argument("Slice: axis " + std::to_string(a) + " is repeated");
    seen |= 1u << a;
    const int64_t st = steps ? steps[i] : 1;
    if (st == 0) throw invalid_argument("Slice: steps must not be 0");
    const int64_t d = in.dims[a];
    int64_t s = starts[i], e = ends[i];
    if (s < 0) s += d;
    if (e < 0) e += d;
    int64_t len;
    if (st > 0) {
      s = std::clamp<int64_t>(s, 0, d);
      e = std::clamp<int64_t>(e, 0, d);
      len = e > s ? (e - s + st - 1) / st : 0;
    } else {
      s = std::clamp<int64_t>(s, 0, d - 1);
      e = std::clamp<int64_t>(e, -1, d - 1);
      len = s > e ? (s - e + (-st) - 1) / (-st) : 0;
    }
    plan.start[a] = len ? s : 0;
    plan.step[a] = st;
    plan.out.dims[a] = len;
  }
  return plan;
}

void slice(DType dtype, const void* x, const Shape& in, const SlicePlan& plan, void* y, const OpContext& ctx) {
  if (plan.out.rank != in.rank) throw invalid_argument("Slice: the plan was made for another rank");
  for (int i = 0; i < in.rank; ++i) {
    const int64_t len = plan.out.dims[i];
    if (len < 0 || (len > 0 && (plan.start[i] < 0 || plan.start[i] >= in.dims[i] ||
                                plan.start[i] + (len - 1) * plan.step[i] < 0 ||
                                plan.start[i] + (len - 1) * plan.step[i] >= in.dims[i])))
      throw invalid_argument("Slice: the plan does not fit the input shape " + in.str());
  }
  const size_t es = dtype_size(dtype);
  const int64_t total = plan.out.numel();
  if (total == 0) return;
  if (in.rank == 0) {
    std::memcpy(y, x, es);
    return;
  }
  int64_t st[kMaxRank];
  contiguous_strides(in, st);
  const int last = in.rank - 1;
  const int64_t run = plan.out.dims[last], rows = total / run;
  const auto* src = static_cast<const uint8_t*>(x);
  auto* dst = static_cast<uint8_t*>(y);
  parallel_items(rows, static_cast<double>(run), ctx.threads, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t o = r, off = plan.start[last];
      for (int d = last - 1; d >= 0; --d) {
        const int64_t i = o % plan.out.dims[d];
        o /= plan.out.dims[d];
        off += (plan.start[d] + i * plan.step[d]) * st[d];
      }
      uint8_t* drow = dst + static_cast<size_t>(r * run) * es;
      if (plan.step[last] == 1) {
        std::memcpy(drow, src + static_cast<size_t>(off) * es, es * static_cast<size_t>(run));
      } else {
        for (int64_t j = 0; j < run; ++j)
          std::memcpy(drow + static_cast<size_t>(j) * es, src + static_cast<size_t>(off + j * plan.step[last]) * es, es);
      }
    }
  });
}

Shape concat_output_shape(const Shape* shapes, int n, int64_t axis) {
  if (n < 1) throw invalid_argument("Concat: expected at least one input");
  const Shape& first = shapes[0];
  if (first.rank == 0) throw invalid_argument("Concat: inputs must have rank >= 1");
  const int64_t a = normalize_axis(axis, first.rank, "Concat");
  Shape out = first;
  out.dims[a] = 0;
  for (int i = 0; i < n; ++i) {
    bool ok = shapes[i].rank == first.rank;
    for (int d = 0; ok && d < first.rank; ++d) ok = d == a || shapes[i].dims[d] == first.dims[d];
    if (!ok)
      throw Error("ERR_SHAPE_MISMATCH", "Concat: input " + std::to_string(i) + " has shape " + shapes[i].str() +
                                            ", incompatible with " + first.str() + " on axis " + std::to_string(a));
    out.dims[a] += shapes[i].dims[a];
  }
  return out;
}

void concat(DType dtype, const void* const* inputs, const Shape* shapes, int n, int64_t axis, void* out,
            const OpContext& ctx) {
  const Shape os = concat_output_shape(shapes, n, axis);
  const int a = static_cast<int>(normalize_axis(axis, os.rank, "Concat"));
  const size_t es = dtype_size(dtype);
  const int64_t outer = os.prod(0, a), inner = os.prod(a + 1, os.rank);
  const size_t out_row = es * static_cast<size_t>(os.dims[a] * inner);
  std::vector<size_t> offset(static_cast<size_t>(n)), bytes(static_cast<size_t>(n));
  size_t acc = 0;
  for (int i = 0; i < n; ++i) {
    offset[i] = acc;
    bytes[i] = es * static_cast<size_t>(shapes[i].dims[a] * inner);
    acc += bytes[i];
  }
  auto* dst = static_cast<uint8_t*>(out);
  parallel_items(outer, static_cast<double>(out_row / es), ctx.threads, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o)
      for (int i = 0; i < n; ++i)
        if (bytes[i])
          std::memcpy(dst + static_cast<size_t>(o) * out_row + offset[i],
                      static_cast<const uint8_t*>(inputs[i]) + static_cast<size_t>(o) * bytes[i], bytes[i]);
  });
}

void split(DType dtype, const void* x, const Shape& shape, int64_t axis, const int64_t* sizes, int n,
           void* const* outputs, const OpContext& ctx) {
  if (shape.rank == 0) throw invalid_argument("Split: input must have rank >= 1");
  const int a = static_cast<int>(normalize_axis(axis, shape.rank, "Split"));
  if (n < 1) throw invalid_argument("Split: expected at least one output");
  int64_t sum = 0;
  for (int i = 0; i < n; ++i) {
    if (sizes[i] < 0) throw invalid_argument("Split: sizes must be non-negative");
    sum += sizes[i];
  }
  if (sum != shape.dims[a])
    throw invalid_argument("Split: sizes sum to " + std::to_string(sum) + " but axis " + std::to_string(a) + " has " +
                           std::to_string(shape.dims[a]));
  const size_t es = dtype_size(dtype);
  const int64_t outer = shape.prod(0, a), inner = shape.prod(a + 1, shape.rank);
  const size_t in_row = es * static_cast<size_t>(shape.dims[a] * inner);
  std::vector<size_t> offset(static_cast<size_t>(n)), bytes(static_cast<size_t>(n));
  size_t acc = 0;
  for (int i = 0; i < n; ++i) {
    offset[i] = acc;
    bytes[i] = es * static_cast<size_t>(sizes[i] * inner);
    acc += bytes[i];
  }
  const auto* src = static_cast<const uint8_t*>(x);
  parallel_items(outer, static_cast<double>(in_row / es), ctx.threads, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o)
      for (int i = 0; i < n; ++i)
        if (bytes[i])
          std::memcpy(static_cast<uint8_t*>(outputs[i]) + static_cast<size_t>(o) * bytes[i],
                      src + static_cast<size_t>(o) * in_row + offset[i], bytes[i]);
  });
}

}  // namespace sparq
