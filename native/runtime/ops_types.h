// Internal to the op drivers: the element types behind each DType (float16 as a storage type that
// converts through float, bool as a byte type distinct from uint8), and a dispatch macro that
// instantiates a template body once per dtype.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "sparq/error.h"
#include "sparq/shape.h"

namespace sparq {
namespace detail {

// IEEE binary16 bits <-> float, round to nearest even (no F16C dependency: these are the scalar paths).
inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t exp = (x >> 23) & 0xffu;
  uint32_t mant = x & 0x7fffffu;
  if (exp == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0u));
  int e = static_cast<int>(exp) - 127 + 15;
  if (e >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000u;
    const int shift = 14 - e;
    const uint32_t half = 1u << (shift - 1), rest = mant & ((1u << shift) - 1);
    uint32_t r = mant >> shift;
    if (rest > half || (rest == half && (r & 1u))) ++r;
    return static_cast<uint16_t>(sign | r);
  }
  uint32_t r = mant >> 13;
  const uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (r & 1u))) {
    if (++r == 0x400u) {
      r = 0;
      if (++e >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
    }
  }
  return static_cast<uint16_t>(sign | (static_cast<uint32_t>(e) << 10) | r);
}

struct Half {
  uint16_t bits;
};
struct Bool8 {
  uint8_t v;
};

// Num<T>: C is the type arithmetic runs in; load/store convert.
template <typename T>
struct Num {
  using C = T;
  static C load(T v) { return v; }
  static T store(C v) { return v; }
};
template <>
struct Num<Half> {
  using C = float;
  static float load(Half v) { return half_to_float(v.bits); }
  static Half store(float v) { return Half{float_to_half(v)}; }
};
template <>
struct Num<Bool8> {
  using C = uint8_t;
  static uint8_t load(Bool8 v) { return v.v != 0; }
  static Bool8 store(uint8_t v) { return Bool8{static_cast<uint8_t>(v != 0)}; }
};

template <typename T>
constexpr bool is_float_v = std::is_floating_point<T>::value || std::is_same<T, Half>::value;
template <typename T>
constexpr bool is_bool_v = std::is_same<T, Bool8>::value;

// Any element as double / from double (Cast's semantics: float -> int truncates and saturates, NaN -> 0).
template <typename T>
inline double to_double(T v) {
  return static_cast<double>(Num<T>::load(v));
}

template <typename To, typename From>
inline To convert_value(From v) {
  if constexpr (std::is_floating_point<From>::value && std::is_integral<To>::value) {
    if (!(v == v)) return To(0);
    const double d = std::trunc(static_cast<double>(v));
    constexpr double hi = static_cast<double>(std::numeric_limits<To>::max()) + 1.0;
    constexpr double lo = static_cast<double>(std::numeric_limits<To>::min());
    if (d >= hi) return std::numeric_limits<To>::max();
    if (d < lo) return std::numeric_limits<To>::min();
    return static_cast<To>(d);
  } else if constexpr (std::is_integral<From>::value && std::is_integral<To>::value) {
    return static_cast<To>(static_cast<std::make_unsigned_t<To>>(v));
  } else {
    return static_cast<To>(v);
  }
}

// Element conversion between any two storage types.
template <typename To, typename From>
inline To convert_elem(From v) {
  if constexpr (std::is_same<To, From>::value) {
    return v;
  } else if constexpr (is_bool_v<To>) {
    return Bool8{static_cast<uint8_t>(Num<From>::load(v) != typename Num<From>::C(0))};
  } else if constexpr (std::is_same<To, Half>::value) {
    if constexpr (std::is_same<From, double>::value) return Half{float_to_half(static_cast<float>(v))};
    else return Half{float_to_half(static_cast<float>(Num<From>::load(v)))};
  } else {
    return convert_value<To>(Num<From>::load(v));
  }
}

[[noreturn]] inline void unsupported_dtype(const std::string& what, DType t) {
  throw Error("ERR_UNSUPPORTED_DTYPE", what + " does not support " + dtype_name(t) + " tensors");
}

}  // namespace detail
}  // namespace sparq

// SPARQ_DISPATCH(dtype, BODY): BODY is a macro taking the storage type: BODY(float), BODY(int64_t)...
#define SPARQ_DISPATCH_NUMERIC(dt, BODY)        \
  switch (dt) {                                 \
    case ::sparq::DType::float32: BODY(float)   \
    case ::sparq::DType::float64: BODY(double)  \
    case ::sparq::DType::float16: BODY(::sparq::detail::Half) \
    case ::sparq::DType::int8: BODY(int8_t)     \
    case ::sparq::DType::int16: BODY(int16_t)   \
    case ::sparq::DType::int32: BODY(int32_t)   \
    case ::sparq::DType::int64: BODY(int64_t)   \
    case ::sparq::DType::uint8: BODY(uint8_t)   \
    case ::sparq::DType::uint16: BODY(uint16_t) \
    case ::sparq::DType::uint32: BODY(uint32_t) \
    case ::sparq::DType::uint64: BODY(uint64_t) \
    default: break;                             \
  }
#define SPARQ_DISPATCH_ALL(dt, BODY)                          \
  switch (dt) {                                               \
    case ::sparq::DType::boolean: BODY(::sparq::detail::Bool8) \
    default: SPARQ_DISPATCH_NUMERIC(dt, BODY)                 \
  }
