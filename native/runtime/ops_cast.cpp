// Cast between float32, uint8, int8, int32, int64 and bool, with every conversion defined (no UB):
// float -> int truncates toward zero and saturates, NaN -> 0; int -> narrower int wraps.
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "ops_broadcast.h"
#include "sparq/error.h"
#include "sparq/ops.h"

namespace sparq {
namespace {

template <typename To, typename From>
inline To convert(From v) {
  if constexpr (std::is_floating_point<From>::value && std::is_integral<To>::value) {
    if (!(v == v)) return To(0);
    const double d = std::trunc(static_cast<double>(v));
    // Bounds as doubles: 2^(bits-1) or 2^bits are exact, the max itself may not be.
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

template <typename To, typename From>
void cast_loop(const From* x, To* y, int64_t n, int threads) {
  detail::parallel_elements(n, threads, 1.0, [&](int64_t e0, int64_t e1) {
    for (int64_t i = e0; i < e1; ++i) y[i] = convert<To>(x[i]);
  });
}

template <typename From>
void to_bool(const From* x, uint8_t* y, int64_t n, int threads) {
  detail::parallel_elements(n, threads, 1.0, [&](int64_t e0, int64_t e1) {
    for (int64_t i = e0; i < e1; ++i) y[i] = x[i] != From(0) ? 1 : 0;
  });
}

template <typename From>
void from_typed(DType to, const From* x, void* y, int64_t n, int threads) {
  switch (to) {
    case DType::float32: return cast_loop(x, static_cast<float*>(y), n, threads);
    case DType::uint8: return cast_loop(x, static_cast<uint8_t*>(y), n, threads);
    case DType::int8: return cast_loop(x, static_cast<int8_t*>(y), n, threads);
    case DType::int32: return cast_loop(x, static_cast<int32_t*>(y), n, threads);
    case DType::int64: return cast_loop(x, static_cast<int64_t*>(y), n, threads);
    case DType::boolean: return to_bool(x, static_cast<uint8_t*>(y), n, threads);
  }
  throw Error("ERR_UNSUPPORTED_DTYPE", "Cast to element type code " + std::to_string(static_cast<int>(to)) + " is not supported");
}

}  // namespace

void cast(DType from, DType to, const void* x, void* y, int64_t n, const OpContext& ctx) {
  if (n < 0) throw invalid_argument("Expected a non-negative element count for Cast");
  dtype_size(to);  // validates `to` before anything is written
  switch (from) {
    case DType::float32: return from_typed(to, static_cast<const float*>(x), y, n, ctx.threads);
    case DType::uint8: return from_typed(to, static_cast<const uint8_t*>(x), y, n, ctx.threads);
    case DType::int8: return from_typed(to, static_cast<const int8_t*>(x), y, n, ctx.threads);
    case DType::int32: return from_typed(to, static_cast<const int32_t*>(x), y, n, ctx.threads);
    case DType::int64: return from_typed(to, static_cast<const int64_t*>(x), y, n, ctx.threads);
    case DType::boolean: {
      // Normalise to 0/1 first so a stray byte value still casts as true.
      const auto* b = static_cast<const uint8_t*>(x);
      if (to == DType::boolean) return to_bool(b, static_cast<uint8_t*>(y), n, ctx.threads);
      std::vector<uint8_t> norm(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) norm[static_cast<size_t>(i)] = b[i] != 0;
      return from_typed(to, norm.data(), y, n, ctx.threads);
    }
  }
  throw Error("ERR_UNSUPPORTED_DTYPE", "Cast from element type code " + std::to_string(static_cast<int>(from)) + " is not supported");
}

}  // namespace sparq
