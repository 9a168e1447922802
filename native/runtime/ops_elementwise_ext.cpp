// Element-wise unary and binary ops of ops_ext.h over every dtype: a per-element switch on the fn
// inside one loop per dtype (these are the cold paths; float32 arithmetic and activations that models
// spend time in run on the vectorised kernels of ops.h).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "ops_broadcast.h"
#include "ops_types.h"
#include "sparq/error.h"
#include "sparq/ops_ext.h"

namespace sparq {
namespace {

using detail::Num;

template <typename C>
C wrap_add(C a, C b) {
  if constexpr (std::is_integral<C>::value) {
    using U = std::make_unsigned_t<C>;
    return static_cast<C>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
  } else {
    return a + b;
  }
}
template <typename C>
C wrap_sub(C a, C b) {
  if constexpr (std::is_integral<C>::value) {
    using U = std::make_unsigned_t<C>;
    return static_cast<C>(static_cast<U>(static_cast<U>(a) - static_cast<U>(b)));
  } else {
    return a - b;
  }
}
template <typename C>
C wrap_mul(C a, C b) {
  if constexpr (std::is_integral<C>::value) {
    using U = std::conditional_t<(sizeof(C) < sizeof(unsigned)), unsigned, std::make_unsigned_t<C>>;
    return static_cast<C>(static_cast<std::make_unsigned_t<C>>(static_cast<U>(a) * static_cast<U>(b)));
  } else {
    return a * b;
  }
}

double erf_d(double x) { return std::erf(x); }

template <typename C>
C unary_float(UnaryFn fn, C v, const float* p) {
  const double x = static_cast<double>(v);
  double r;
  switch (fn) {
    case UnaryFn::neg: r = -x; break;
    case UnaryFn::abs: r = std::fabs(x); break;
    case UnaryFn::reciprocal: r = 1.0 / x; break;
    case UnaryFn::exp: r = std::exp(x); break;
    case UnaryFn::log: r = std::log(x); break;
    case UnaryFn::floor: r = std::floor(x); break;
    case UnaryFn::ceil: r = std::ceil(x); break;
    case UnaryFn::round: r = std::nearbyint(x); break;  // default rounding mode: half to even
    case UnaryFn::sign: r = x > 0 ? 1.0 : x < 0 ? -1.0 : x; break;
    case UnaryFn::sin: r = std::sin(x); break;
    case UnaryFn::cos: r = std::cos(x); break;
    case UnaryFn::tan: r = std::tan(x); break;
    case UnaryFn::asin: r = std::asin(x); break;
    case UnaryFn::acos: r = std::acos(x); break;
    case UnaryFn::atan: r = std::atan(x); break;
    case UnaryFn::sinh: r = std::sinh(x); break;
    case UnaryFn::cosh: r = std::cosh(x); break;
    case UnaryFn::asinh: r = std::asinh(x); break;
    case UnaryFn::acosh: r = std::acosh(x); break;
    case UnaryFn::atanh: r = std::atanh(x); break;
    case UnaryFn::sqrt: r = std::sqrt(x); break;
    case UnaryFn::relu: r = x < 0 ? 0.0 : x; break;
    case UnaryFn::sigmoid: r = 1.0 / (1.0 + std::exp(-x)); break;
    case UnaryFn::tanh: r = std::tanh(x); break;
    case UnaryFn::erf: r = erf_d(x); break;
    case UnaryFn::softplus: r = x > 30 ? x : std::log1p(std::exp(x)); break;
    case UnaryFn::softsign: r = x / (1.0 + std::fabs(x)); break;
    case UnaryFn::elu: r = x < 0 ? p[0] * (std::exp(x) - 1.0) : x; break;
    case UnaryFn::selu: r = x <= 0 ? p[1] * (p[0] * std::exp(x) - p[0]) : p[1] * x; break;
    case UnaryFn::leaky_relu: r = x < 0 ? p[0] * x : x; break;
    case UnaryFn::hard_sigmoid: r = std::max(0.0, std::min(1.0, p[0] * x + p[1])); break;
    case UnaryFn::hard_swish: r = x * std::max(0.0, std::min(1.0, x / 6.0 + 0.5)); break;
    case UnaryFn::celu: r = std::max(0.0, x) + std::min(0.0, p[0] * (std::exp(x / p[0]) - 1.0)); break;
    case UnaryFn::thresholded_relu: r = x > p[0] ? x : 0.0; break;
    case UnaryFn::mish: r = x * std::tanh(x > 30 ? x : std::log1p(std::exp(x))); break;
    case UnaryFn::identity: r = x; break;
    case UnaryFn::shrink: r = x < -p[1] ? x + p[0] : x > p[1] ? x - p[0] : 0.0; break;
    case UnaryFn::gelu: r = 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); break;
    case UnaryFn::gelu_tanh: r = 0.5 * x * (1.0 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))); break;
    default: r = x; break;
  }
  return static_cast<C>(r);
}

template <typename C>
C unary_int(UnaryFn fn, C x) {
  switch (fn) {
    case UnaryFn::neg: return wrap_sub<C>(C(0), x);
    case UnaryFn::abs:
      if constexpr (std::is_signed<C>::value) return x < 0 ? wrap_sub<C>(C(0), x) : x;
      else return x;
    case UnaryFn::sign: return x > 0 ? C(1) : x < 0 ? static_cast<C>(-1) : C(0);
    case UnaryFn::relu: return x < 0 ? C(0) : x;
    case UnaryFn::bitwise_not: return static_cast<C>(~x);
    default: return x;  // identity
  }
}

template <typename T>
void unary_typed(UnaryFn fn, const T* x, void* yv, int64_t n, const float* p, int threads) {
  using C = typename Num<T>::C;
  if (fn == UnaryFn::isnan || fn == UnaryFn::isinf) {
    auto* y = static_cast<uint8_t*>(yv);
    const bool pos = p[0] != 0, neg = p[1] != 0;
    for (int64_t i = 0; i < n; ++i) {
      const double v = static_cast<double>(Num<T>::load(x[i]));
      y[i] = fn == UnaryFn::isnan ? (v != v) : (std::isinf(v) && ((v > 0 && pos) || (v < 0 && neg)));
    }
    return;
  }
  T* y = static_cast<T*>(yv);
  detail::parallel_elements(n, threads, 8.0, [&](int64_t e0, int64_t e1) {
    for (int64_t i = e0; i < e1; ++i) {
      const C v = Num<T>::load(x[i]);
      if constexpr (detail::is_float_v<T>) y[i] = Num<T>::store(unary_float<C>(fn, v, p));
      else if constexpr (detail::is_bool_v<T>) y[i] = Num<T>::store(fn == UnaryFn::logical_not ? !v : v);
      else y[i] = Num<T>::store(unary_int<C>(fn, v));
    }
  });
}

}  // namespace

bool unary_fn_integer(UnaryFn fn) {
  return fn == UnaryFn::neg || fn == UnaryFn::abs || fn == UnaryFn::sign || fn == UnaryFn::relu ||
         fn == UnaryFn::identity || fn == UnaryFn::bitwise_not;
}

void unary_ext(UnaryFn fn, DType dtype, const void* x, void* y, int64_t n, const float* params, int nparams,
               const OpContext& ctx) {
  if (static_cast<int32_t>(fn) < 0 || fn >= UnaryFn::count_) throw invalid_argument("Unknown unary fn");
  if (n < 0) throw invalid_argument("Expected a non-negative element count");
  float p[4] = {0, 0, 0, 0};
  for (int i = 0; i < nparams && i < 4; ++i) p[i] = params[i];
  const bool is_float = dtype == DType::float32 || dtype == DType::float64 || dtype == DType::float16;
  const bool is_bool = dtype == DType::boolean;
  const bool ok = fn == UnaryFn::identity || (is_bool ? fn == UnaryFn::logical_not
                                              : is_float ? fn != UnaryFn::logical_not && fn != UnaryFn::bitwise_not
                                                         : unary_fn_integer(fn) || (fn == UnaryFn::isnan || fn == UnaryFn::isinf));
  if (!ok) detail::unsupported_dtype("This unary op", dtype);
#define SPARQ_UNARY(T) return unary_typed(fn, static_cast<const T*>(x), y, n, p, ctx.threads);
  SPARQ_DISPATCH_ALL(dtype, SPARQ_UNARY)
#undef SPARQ_UNARY
  detail::unsupported_dtype("This unary op", dtype);
}

// ---------------------------------------------------------------------------------------------- binary

namespace {

template <typename C>
C binary_float(BinaryFn fn, C a, C b) {
  switch (fn) {
    case BinaryFn::add: return a + b;
    case BinaryFn::sub: return a - b;
    case BinaryFn::mul: return a * b;
    case BinaryFn::div: return a / b;
    case BinaryFn::pow: return static_cast<C>(std::pow(static_cast<double>(a), static_cast<double>(b)));
    case BinaryFn::fmod: return static_cast<C>(std::fmod(static_cast<double>(a), static_cast<double>(b)));
    case BinaryFn::mod: {
      double r = std::fmod(static_cast<double>(a), static_cast<double>(b));
      if (r != 0 && ((r < 0) != (b < 0))) r += static_cast<double>(b);
      return static_cast<C>(r);
    }
    case BinaryFn::max: return a != a || b != b ? (a != a ? a : b) : std::max(a, b);
    case BinaryFn::min: return a != a || b != b ? (a != a ? a : b) : std::min(a, b);
    case BinaryFn::prelu: return a < 0 ? a * b : a;
    default: return a;
  }
}

template <typename C>
C binary_int(BinaryFn fn, C a, C b) {
  switch (fn) {
    case BinaryFn::add: return wrap_add(a, b);
    case BinaryFn::sub: return wrap_sub(a, b);
    case BinaryFn::mul: return wrap_mul(a, b);
    case BinaryFn::div:
      if constexpr (std::is_signed<C>::value)
        if (b == static_cast<C>(-1)) return wrap_sub<C>(C(0), a);
      return static_cast<C>(a / b);
    case BinaryFn::fmod:
      if constexpr (std::is_signed<C>::value)
        if (b == static_cast<C>(-1)) return C(0);
      return static_cast<C>(a % b);
    case BinaryFn::mod: {
      if constexpr (std::is_signed<C>::value) {
        if (b == static_cast<C>(-1)) return C(0);
        C r = static_cast<C>(a % b);
        if (r != 0 && ((r < 0) != (b < 0))) r = static_cast<C>(r + b);
        return r;
      } else {
        return static_cast<C>(a % b);
      }
    }
    case BinaryFn::pow: return detail::convert_value<C>(std::pow(static_cast<double>(a), static_cast<double>(b)));
    case BinaryFn::max: return std::max(a, b);
    case BinaryFn::min: return std::min(a, b);
    case BinaryFn::shift_left: return b >= static_cast<C>(sizeof(C) * 8) ? C(0) : static_cast<C>(a << b);
    case BinaryFn::shift_right: return b >= static_cast<C>(sizeof(C) * 8) ? C(0) : static_cast<C>(a >> b);
    case BinaryFn::bit_and: return static_cast<C>(a & b);
    case BinaryFn::bit_or: return static_cast<C>(a | b);
    case BinaryFn::bit_xor: return static_cast<C>(a ^ b);
    case BinaryFn::prelu: return a < 0 ? wrap_mul(a, b) : a;
    default: return a;
  }
}

template <typename C>
bool compare(BinaryFn fn, C a, C b) {
  switch (fn) {
    case BinaryFn::equal: return a == b;
    case BinaryFn::less: return a < b;
    case BinaryFn::greater: return a > b;
    case BinaryFn::less_equal: return a <= b;
    case BinaryFn::greater_equal: return a >= b;
    case BinaryFn::logical_and: return a && b;
    case BinaryFn::logical_or: return a || b;
    case BinaryFn::logical_xor: return (a != 0) != (b != 0);
    default: return false;
  }
}

template <typename T>
void binary_typed(BinaryFn fn, const detail::Broadcast& bc, int64_t total, const T* a, const T* b, void* out, int threads) {
  using C = typename Num<T>::C;
  const bool boolean_out = binary_fn_comparison(fn) || fn == BinaryFn::logical_and || fn == BinaryFn::logical_or ||
                           fn == BinaryFn::logical_xor;
  detail::parallel_elements(total, threads, 2.0, [&](int64_t e0, int64_t e1) {
    detail::for_runs(bc, e0, e1, [&](const int64_t* offs, const int64_t* st, int64_t o, int64_t len) {
      const T* pa = a + offs[0];
      const T* pb = b + offs[1];
      for (int64_t i = 0; i < len; ++i) {
        const C x = Num<T>::load(pa[i * st[0]]), y = Num<T>::load(pb[i * st[1]]);
        if (boolean_out) {
          static_cast<uint8_t*>(out)[o + i] = compare<C>(fn, x, y);
        } else if constexpr (detail::is_float_v<T>) {
          static_cast<T*>(out)[o + i] = Num<T>::store(binary_float<C>(fn, x, y));
        } else if constexpr (!detail::is_bool_v<T>) {
          static_cast<T*>(out)[o + i] = Num<T>::store(binary_int<C>(fn, x, y));
        }
      }
    });
  });
}

template <typename T>
bool has_zero(const T* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (Num<T>::load(b[i]) == 0) return true;
  return false;
}

}  // namespace

bool binary_fn_comparison(BinaryFn fn) { return fn >= BinaryFn::equal && fn <= BinaryFn::greater_equal; }

void binary_ext(BinaryFn fn, DType a_type, const void* a, const Shape& a_shape, DType b_type, const void* b,
                const Shape& b_shape, void* out, const OpContext& ctx) {
  if (static_cast<int32_t>(fn) < 0 || fn >= BinaryFn::count_) throw invalid_argument("Unknown binary fn");
  const Shape out_shape = broadcast_shapes(a_shape, b_shape);
  const int64_t total = out_shape.numel();
  const bool is_float = a_type == DType::float32 || a_type == DType::float64 || a_type == DType::float16;
  const bool is_bool = a_type == DType::boolean;
  const bool logical = fn == BinaryFn::logical_and || fn == BinaryFn::logical_or || fn == BinaryFn::logical_xor;
  const bool bitwise = fn >= BinaryFn::shift_left && fn <= BinaryFn::bit_xor;
  if ((logical && !is_bool) || (is_bool && !logical && fn != BinaryFn::equal) || (is_float && bitwise))
    detail::unsupported_dtype("This binary op", a_type);
  if ((fn == BinaryFn::shift_left || fn == BinaryFn::shift_right) &&
      !(a_type == DType::uint8 || a_type == DType::uint16 || a_type == DType::uint32 || a_type == DType::uint64))
    detail::unsupported_dtype("BitShift", a_type);
  // Pow with an exponent of another dtype: the exponent converted to the base's dtype first (ONNX
  // Runtime computes in the base's type too).
  std::vector<uint8_t> converted;
  if (a_type != b_type) {
    if (fn != BinaryFn::pow) throw invalid_argument("Binary op operands differ in dtype");
    const int64_t nb = b_shape.numel();
    converted.resize(static_cast<size_t>(nb) * dtype_size(a_type) + 1);
    OpContext one;
    one.threads = 1;
    if (is_float) {
      cast(b_type, a_type, b, converted.data(), nb, one);
    } else {  // integer base: the exponent truncated toward zero like a cast (pow of ints is integral)
      cast(b_type, a_type, b, converted.data(), nb, one);
    }
    b = converted.data();
  }
  if (!is_float && (fn == BinaryFn::div || fn == BinaryFn::mod || fn == BinaryFn::fmod)) {
    bool zero = false;
#define SPARQ_ZERO(T) zero = has_zero(static_cast<const T*>(b), b_shape.numel()); break;
    SPARQ_DISPATCH_NUMERIC(a_type, SPARQ_ZERO)
#undef SPARQ_ZERO
    if (zero) throw Error("ERR_DIVISION_BY_ZERO", "Integer division by zero");
  }
  const Shape ins[2] = {a_shape, b_shape};
  const detail::Broadcast bc = detail::make_broadcast(out_shape, ins, 2);
#define SPARQ_BINARY(T) return binary_typed(fn, bc, total, static_cast<const T*>(a), static_cast<const T*>(b), out, ctx.threads);
  SPARQ_DISPATCH_ALL(a_type, SPARQ_BINARY)
#undef SPARQ_BINARY
  detail::unsupported_dtype("This binary op", a_type);
}

// ------------------------------------------------------------------------------------------------ clip

namespace {
template <typename T>
void clip_typed(const T* x, T* y, int64_t n, const T* lo, const T* hi) {
  using C = typename Num<T>::C;
  const bool has_lo = lo != nullptr, has_hi = hi != nullptr;
  const C l = has_lo ? Num<T>::load(*lo) : C(0), h = has_hi ? Num<T>::load(*hi) : C(0);
  for (int64_t i = 0; i < n; ++i) {
    C v = Num<T>::load(x[i]);
    if (has_lo && v < l) v = l;
    if (has_hi && v > h) v = h;
    y[i] = Num<T>::store(v);
  }
}
}  // namespace

void clip_ext(DType dtype, const void* x, void* y, int64_t n, const void* lo, const void* hi, const OpContext& ctx) {
  if (n < 0) throw invalid_argument("Expected a non-negative element count for Clip");
#define SPARQ_CLIP(T)                                                                                   \
  return clip_typed(static_cast<const T*>(x), static_cast<T*>(y), n, static_cast<const T*>(lo), \
                    static_cast<const T*>(hi));
  SPARQ_DISPATCH_NUMERIC(dtype, SPARQ_CLIP)
#undef SPARQ_CLIP
  detail::unsupported_dtype("Clip", dtype);
}

}  // namespace sparq
