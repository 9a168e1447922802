// Reductions, arg-reductions, softmax variants and CumSum of ops_ext.h over every numeric dtype.
// The reduction walks the input once in memory order, adding each element into its output cell
// (output strides are 0 on reduced axes): one loop for any set of axes.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ops_types.h"
#include "sparq/error.h"
#include "sparq/ops_ext.h"

namespace sparq {
namespace {

using detail::Num;

template <typename T>
using Acc = std::conditional_t<detail::is_float_v<T>, double,
                               std::conditional_t<std::is_signed<typename Num<T>::C>::value, int64_t, uint64_t>>;

// Output offset per input element: calls fn(in_index, out_index) in input order.
template <typename F>
void walk(const Shape& s, const bool* reduced, F&& fn) {
  int64_t ostr[kMaxRank];
  int64_t acc = 1;
  for (int d = s.rank - 1; d >= 0; --d) {
    ostr[d] = reduced[d] ? 0 : acc;
    if (!reduced[d]) acc *= s[d];
  }
  const int64_t n = s.numel();
  int64_t coord[kMaxRank] = {};
  int64_t o = 0;
  for (int64_t i = 0; i < n; ++i) {
    fn(i, o);
    for (int d = s.rank - 1; d >= 0; --d) {
      o += ostr[d];
      if (++coord[d] < s[d]) break;
      o -= ostr[d] * coord[d];
      coord[d] = 0;
    }
  }
}

template <typename T>
void reduce_typed(ReduceFn fn, const T* x, const Shape& s, const bool* reduced, int64_t out_n, T* y) {
  using A = Acc<T>;
  int64_t count = 1;
  for (int d = 0; d < s.rank; ++d)
    if (reduced[d]) count *= s[d];
  std::vector<A> acc(static_cast<size_t>(out_n));
  const bool is_max = fn == ReduceFn::max, is_min = fn == ReduceFn::min;
  A init = 0;
  if (fn == ReduceFn::prod) init = 1;
  if (is_max) init = std::numeric_limits<A>::has_infinity ? -std::numeric_limits<A>::infinity() : std::numeric_limits<A>::lowest();
  if (is_min) init = std::numeric_limits<A>::has_infinity ? std::numeric_limits<A>::infinity() : std::numeric_limits<A>::max();
  if (is_max || is_min) {
    // Integers keep the extreme of their own type (an empty max of int32 is INT32_MIN).
    if constexpr (!detail::is_float_v<T>) init = is_max ? static_cast<A>(std::numeric_limits<typename Num<T>::C>::lowest())
                                                        : static_cast<A>(std::numeric_limits<typename Num<T>::C>::max());
  }
  std::fill(acc.begin(), acc.end(), init);
  std::vector<double> shift;
  if (fn == ReduceFn::log_sum_exp) {
    shift.assign(static_cast<size_t>(out_n), -std::numeric_limits<double>::infinity());
    walk(s, reduced, [&](int64_t i, int64_t o) {
      const double v = static_cast<double>(Num<T>::load(x[i]));
      if (v > shift[static_cast<size_t>(o)]) shift[static_cast<size_t>(o)] = v;
    });
    for (double& m : shift)
      if (!std::isfinite(m)) m = 0;
  }
  walk(s, reduced, [&](int64_t i, int64_t o) {
    const A v = static_cast<A>(Num<T>::load(x[i]));
    A& a = acc[static_cast<size_t>(o)];
    switch (fn) {
      case ReduceFn::sum: case ReduceFn::mean: case ReduceFn::log_sum: a = static_cast<A>(a + v); break;
      case ReduceFn::max: a = (v != v || a != a) ? (v != v ? v : a) : std::max(a, v); break;
      case ReduceFn::min: a = (v != v || a != a) ? (v != v ? v : a) : std::min(a, v); break;
      case ReduceFn::prod: a = static_cast<A>(a * v); break;
      case ReduceFn::sum_square: a = static_cast<A>(a + v * v); break;
      case ReduceFn::l1: a = static_cast<A>(a + (v < 0 ? A(0) - v : v)); break;
      case ReduceFn::l2: a = static_cast<A>(a + v * v); break;
      case ReduceFn::log_sum_exp: a = static_cast<A>(a + std::exp(static_cast<double>(v) - shift[static_cast<size_t>(o)])); break;
      default: break;
    }
  });
  for (int64_t o = 0; o < out_n; ++o) {
    const A a = acc[static_cast<size_t>(o)];
    double r;
    switch (fn) {
      case ReduceFn::mean: r = static_cast<double>(a) / static_cast<double>(count); break;
      case ReduceFn::l2: r = std::sqrt(static_cast<double>(a)); break;
      case ReduceFn::log_sum: r = std::log(static_cast<double>(a)); break;
      case ReduceFn::log_sum_exp: r = std::log(static_cast<double>(a)) + shift[static_cast<size_t>(o)]; break;
      default:
        if constexpr (detail::is_float_v<T>) {
          y[o] = Num<T>::store(static_cast<typename Num<T>::C>(a));
        } else {
          y[o] = static_cast<T>(a);
        }
        continue;
    }
    if constexpr (detail::is_float_v<T>) y[o] = Num<T>::store(static_cast<typename Num<T>::C>(r));
    else y[o] = detail::convert_value<T>(r);
  }
}

}  // namespace

void reduce_ext(ReduceFn fn, DType dtype, const void* x, const Shape& shape, const int64_t* axes, int naxes, void* y,
                const OpContext& ctx) {
  if (static_cast<int32_t>(fn) < 0 || fn >= ReduceFn::count_) throw invalid_argument("Unknown reduce fn");
  bool reduced[kMaxRank] = {};
  for (int i = 0; i < naxes; ++i) {
    if (axes[i] < 0 || axes[i] >= shape.rank || reduced[axes[i]]) throw invalid_argument("Reduce: bad axes");
    reduced[axes[i]] = true;
  }
  int64_t out_n = 1;
  for (int d = 0; d < shape.rank; ++d)
    if (!reduced[d]) out_n *= shape[d];
#define SPARQ_REDUCE(T) return reduce_typed(fn, static_cast<const T*>(x), shape, reduced, out_n, static_cast<T*>(y));
  SPARQ_DISPATCH_NUMERIC(dtype, SPARQ_REDUCE)
#undef SPARQ_REDUCE
  detail::unsupported_dtype("Reductions", dtype);
}

// ----------------------------------------------------------------------------------- ArgMax / ArgMin

namespace {
template <typename T>
void arg_typed(bool is_min, bool last, const T* x, int64_t outer, int64_t n, int64_t inner, int64_t* y) {
  using C = typename Num<T>::C;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const T* p = x + o * n * inner + i;
      C best = Num<T>::load(p[0]);
      int64_t at = 0;
      for (int64_t k = 1; k < n; ++k) {
        const C v = Num<T>::load(p[k * inner]);
        const bool better = is_min ? (last ? v <= best : v < best) : (last ? v >= best : v > best);
        if (better) {
          best = v;
          at = k;
        }
      }
      y[o * inner + i] = at;
    }
}
}  // namespace

void arg_reduce(bool is_min, bool select_last, DType dtype, const void* x, const Shape& shape, int axis, int64_t* y) {
  if (axis < 0 || axis >= shape.rank || shape[axis] < 1) throw invalid_argument("ArgMax/ArgMin: bad axis or an empty axis");
  const int64_t outer = shape.prod(0, axis), n = shape[axis], inner = shape.prod(axis + 1, shape.rank);
#define SPARQ_ARG(T) return arg_typed(is_min, select_last, static_cast<const T*>(x), outer, n, inner, y);
  SPARQ_DISPATCH_NUMERIC(dtype, SPARQ_ARG)
#undef SPARQ_ARG
  detail::unsupported_dtype("ArgMax/ArgMin", dtype);
}

// ------------------------------------------------------------------------------------------- softmax

namespace {
template <typename T>
void softmax_typed(int kind, const T* x, T* y, int64_t outer, int64_t n, int64_t inner) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t base = o * n * inner + i;
      double m = -std::numeric_limits<double>::infinity();
      int64_t arg = 0;
      for (int64_t k = 0; k < n; ++k) {
        v[static_cast<size_t>(k)] = static_cast<double>(Num<T>::load(x[base + k * inner]));
        if (v[static_cast<size_t>(k)] > m) {
          m = v[static_cast<size_t>(k)];
          arg = k;
        }
      }
      if (kind == 2) {
        for (int64_t k = 0; k < n; ++k) y[base + k * inner] = Num<T>::store(static_cast<typename Num<T>::C>(k == arg ? 1 : 0));
        continue;
      }
      double sum = 0;
      for (int64_t k = 0; k < n; ++k) sum += std::exp(v[static_cast<size_t>(k)] - m);
      const double lse = std::log(sum);
      for (int64_t k = 0; k < n; ++k) {
        const double d = v[static_cast<size_t>(k)] - m;
        y[base + k * inner] = Num<T>::store(static_cast<typename Num<T>::C>(kind == 1 ? d - lse : std::exp(d) / sum));
      }
    }
}
}  // namespace

void softmax_ext(int kind, DType dtype, const void* x, void* y, int64_t outer, int64_t axis, int64_t inner) {
  if (kind < 0 || kind > 2) throw invalid_argument("Unknown softmax kind");
  switch (dtype) {
    case DType::float32: return softmax_typed(kind, static_cast<const float*>(x), static_cast<float*>(y), outer, axis, inner);
    case DType::float64: return softmax_typed(kind, static_cast<const double*>(x), static_cast<double*>(y), outer, axis, inner);
    case DType::float16:
      return softmax_typed(kind, static_cast<const detail::Half*>(x), static_cast<detail::Half*>(y), outer, axis, inner);
    default: detail::unsupported_dtype("Softmax", dtype);
  }
}

// -------------------------------------------------------------------------------------------- CumSum

namespace {
template <typename T>
void cumsum_typed(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool exclusive, bool reverse) {
  using A = Acc<T>;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      A acc = 0;
      for (int64_t j = 0; j < n; ++j) {
        const int64_t k = reverse ? n - 1 - j : j;
        const int64_t at = (o * n + k) * inner + i;
        const A v = static_cast<A>(Num<T>::load(x[at]));
        if (exclusive) {
          y[at] = Num<T>::store(static_cast<typename Num<T>::C>(acc));
          acc = static_cast<A>(acc + v);
        } else {
          acc = static_cast<A>(acc + v);
          y[at] = Num<T>::store(static_cast<typename Num<T>::C>(acc));
        }
      }
    }
}
}  // namespace

void cumsum(DType dtype, const void* x, const Shape& shape, int axis, bool exclusive, bool reverse, void* y) {
  if (axis < 0 || axis >= shape.rank) throw invalid_argument("CumSum: axis out of range");
  const int64_t outer = shape.prod(0, axis), n = shape[axis], inner = shape.prod(axis + 1, shape.rank);
#define SPARQ_CUMSUM(T) return cumsum_typed(static_cast<const T*>(x), static_cast<T*>(y), outer, n, inner, exclusive, reverse);
  SPARQ_DISPATCH_NUMERIC(dtype, SPARQ_CUMSUM)
#undef SPARQ_CUMSUM
  detail::unsupported_dtype("CumSum", dtype);
}

}  // namespace sparq
