// Data movement and generators of ops_ext.h: Tile, Pad, TopK, Trilu, OneHot, Range, fill (run-time
// ConstantOfShape) and EyeLike. Element bytes are moved by size where the op never looks at values.
#include <algorithm>
#include <cstring>
#include <cmath>
#include <numeric>
#include <vector>

#include "ops_broadcast.h"
#include "ops_types.h"
#include "sparq/error.h"
#include "sparq/ops_ext.h"

namespace sparq {
namespace {

using detail::Num;

// Calls fn(out_index, coord) for every output element in order.
template <typename F>
void for_coords(const Shape& s, F&& fn) {
  const int64_t n = s.numel();
  int64_t coord[kMaxRank] = {};
  for (int64_t i = 0; i < n; ++i) {
    fn(i, coord);
    for (int d = s.rank - 1; d >= 0; --d) {
      if (++coord[d] < s[d]) break;
      coord[d] = 0;
    }
  }
}

}  // namespace

void tile(DType dtype, const void* x, const Shape& in, void* y, const Shape& out, const OpContext& ctx) {
  if (in.rank != out.rank) throw invalid_argument("Tile: ranks differ");
  for (int d = 0; d < in.rank; ++d)
    if (in[d] == 0 ? out[d] != 0 : out[d] % in[d] != 0) throw invalid_argument("Tile: output dims are not multiples of the input's");
  const size_t es = dtype_size(dtype);
  int64_t istr[kMaxRank];
  contiguous_strides(in, istr);
  const auto* src = static_cast<const uint8_t*>(x);
  auto* dst = static_cast<uint8_t*>(y);
  for_coords(out, [&](int64_t i, const int64_t* c) {
    int64_t off = 0;
    for (int d = 0; d < in.rank; ++d) off += (c[d] % in[d]) * istr[d];
    std::memcpy(dst + static_cast<size_t>(i) * es, src + static_cast<size_t>(off) * es, es);
  });
}

void pad(DType dtype, int mode, const void* x, const Shape& in, const int64_t* begin, const void* value, void* y,
         const Shape& out, const OpContext& ctx) {
  if (in.rank != out.rank) throw invalid_argument("Pad: ranks differ");
  if (mode < 0 || mode > 3) throw invalid_argument("Pad: unknown mode");
  const size_t es = dtype_size(dtype);
  int64_t istr[kMaxRank];
  contiguous_strides(in, istr);
  if (mode != 0 && in.numel() == 0 && out.numel() > 0) throw invalid_argument("Pad: cannot reflect, repeat or wrap an empty input");
  const auto* src = static_cast<const uint8_t*>(x);
  auto* dst = static_cast<uint8_t*>(y);
  uint8_t zero[8] = {};
  const uint8_t* fillv = value ? static_cast<const uint8_t*>(value) : zero;
  for_coords(out, [&](int64_t i, const int64_t* c) {
    int64_t off = 0;
    bool inside = true;
    for (int d = 0; d < in.rank && inside; ++d) {
      const int64_t n = in[d];
      int64_t k = c[d] - begin[d];
      if (k < 0 || k >= n) {
        if (mode == 0) {
          inside = false;
          break;
        }
        if (mode == 2) {
          k = k < 0 ? 0 : n - 1;
        } else if (mode == 3) {
          k = ((k % n) + n) % n;
        } else if (n == 1) {
          k = 0;
        } else {  // reflect without repeating the edge: period 2(n-1)
          const int64_t p = 2 * (n - 1);
          k = ((k % p) + p) % p;
          if (k >= n) k = p - k;
        }
      }
      off += k * istr[d];
    }
    std::memcpy(dst + static_cast<size_t>(i) * es, inside ? src + static_cast<size_t>(off) * es : fillv, es);
  });
}

namespace {
template <typename T>
void topk_typed(const T* x, int64_t outer, int64_t n, int64_t inner, int64_t k, bool largest, bool sorted, T* values,
                int64_t* indices) {
  using C = typename Num<T>::C;
  std::vector<int64_t> idx(static_cast<size_t>(n));
  std::vector<C> v(static_cast<size_t>(n));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        idx[static_cast<size_t>(j)] = j;
        v[static_cast<size_t>(j)] = Num<T>::load(x[(o * n + j) * inner + i]);
      }
      auto better = [&](int64_t a, int64_t b) {
        const C va = v[static_cast<size_t>(a)], vb = v[static_cast<size_t>(b)];
        if (va != vb) return largest ? va > vb : va < vb;
        return a < b;
      };
      std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), better);
      if (!sorted) std::sort(idx.begin(), idx.begin() + k);
      for (int64_t j = 0; j < k; ++j) {
        const int64_t at = (o * k + j) * inner + i;
        values[at] = x[(o * n + idx[static_cast<size_t>(j)]) * inner + i];
        indices[at] = idx[static_cast<size_t>(j)];
      }
    }
}
}  // namespace

void topk(DType dtype, const void* x, const Shape& shape, int axis, int64_t k, bool largest, bool sorted, void* values,
          int64_t* indices) {
  if (axis < 0 || axis >= shape.rank || k < 0 || k > shape[axis]) throw invalid_argument("TopK: bad axis or k");
  const int64_t outer = shape.prod(0, axis), n = shape[axis], inner = shape.prod(axis + 1, shape.rank);
#define SPARQ_TOPK(T) \
  return topk_typed(static_cast<const T*>(x), outer, n, inner, k, largest, sorted, static_cast<T*>(values), indices);
  SPARQ_DISPATCH_NUMERIC(dtype, SPARQ_TOPK)
#undef SPARQ_TOPK
  detail::unsupported_dtype("TopK", dtype);
}

void trilu(DType dtype, const void* x, const Shape& shape, bool upper, int64_t k, void* y) {
  if (shape.rank < 2) throw invalid_argument("Trilu: rank must be at least 2");
  const size_t es = dtype_size(dtype);
  const int64_t R = shape[shape.rank - 2], Cn = shape[shape.rank - 1];
  const int64_t mats = R * Cn == 0 ? 0 : shape.numel() / (R * Cn);
  const auto* src = static_cast<const uint8_t*>(x);
  auto* dst = static_cast<uint8_t*>(y);
  for (int64_t m = 0; m < mats; ++m)
    for (int64_t i = 0; i < R; ++i)
      for (int64_t j = 0; j < Cn; ++j) {
        const size_t at = static_cast<size_t>((m * R + i) * Cn + j) * es;
        const bool keep = upper ? j - i >= k : j - i <= k;
        if (keep) std::memcpy(dst + at, src + at, es);
        else std::memset(dst + at, 0, es);
      }
}

void one_hot(DType index_type, const void* indices, int64_t outer, int64_t inner, int64_t depth, DType dtype,
             const void* values, void* y) {
  const size_t es = dtype_size(dtype);
  const auto* vals = static_cast<const uint8_t*>(values);
  auto* dst = static_cast<uint8_t*>(y);
  std::vector<double> ids(static_cast<size_t>(outer * inner));
  const double* conv = nullptr;
  if (index_type != DType::float64) {
    OpContext one;
    cast(index_type, DType::float64, indices, ids.data(), outer * inner, one);
    conv = ids.data();
  } else {
    conv = static_cast<const double*>(indices);
  }
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t d = 0; d < depth; ++d)
      for (int64_t i = 0; i < inner; ++i) {
        double id = std::trunc(conv[o * inner + i]);
        if (id < 0) id += static_cast<double>(depth);
        const bool on = id == static_cast<double>(d);
        std::memcpy(dst + static_cast<size_t>((o * depth + d) * inner + i) * es, vals + (on ? es : 0), es);
      }
}

namespace {
template <typename T>
void range_typed(const T* start, const T* delta, T* y, int64_t n) {
  using C = typename Num<T>::C;
  const C s = Num<T>::load(*start), d = Num<T>::load(*delta);
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (std::is_integral<C>::value) y[i] = static_cast<T>(s + static_cast<C>(i) * d);
    else y[i] = Num<T>::store(static_cast<C>(static_cast<double>(s) + static_cast<double>(i) * static_cast<double>(d)));
  }
}
}  // namespace

void range_fill(DType dtype, const void* start, const void* delta, void* y, int64_t n) {
#define SPARQ_RANGE(T) return range_typed(static_cast<const T*>(start), static_cast<const T*>(delta), static_cast<T*>(y), n);
  SPARQ_DISPATCH_NUMERIC(dtype, SPARQ_RANGE)
#undef SPARQ_RANGE
  detail::unsupported_dtype("Range", dtype);
}

void fill(DType dtype, const void* value, void* y, int64_t n) {
  const size_t es = dtype_size(dtype);
  auto* dst = static_cast<uint8_t*>(y);
  for (int64_t i = 0; i < n; ++i) std::memcpy(dst + static_cast<size_t>(i) * es, value, es);
}

void eye_like(DType dtype, int64_t rows, int64_t cols, int64_t k, void* y) {
  const size_t es = dtype_size(dtype);
  auto* dst = static_cast<uint8_t*>(y);
  std::memset(dst, 0, static_cast<size_t>(rows * cols) * es);
  uint8_t one[8] = {};
  OpContext c;
  const uint8_t u = 1;
  cast(DType::uint8, dtype, &u, one, 1, c);
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t j = i + k;
    if (j >= 0 && j < cols) std::memcpy(dst + static_cast<size_t>(i * cols + j) * es, one, es);
  }
}

}  // namespace sparq
