// Cast between every numeric dtype and bool, with every conversion defined (no UB): float -> int
// truncates toward zero and saturates, NaN -> 0; int -> narrower int wraps; anything -> bool is != 0
// (NaN -> true); float16 converts through float32 with round-to-nearest-even.
#include <string>

#include "ops_broadcast.h"
#include "ops_types.h"
#include "sparq/error.h"
#include "sparq/ops.h"

namespace sparq {
namespace {

template <typename To, typename From>
void cast_loop(const From* x, To* y, int64_t n, int threads) {
  detail::parallel_elements(n, threads, 1.0, [&](int64_t e0, int64_t e1) {
    for (int64_t i = e0; i < e1; ++i) y[i] = detail::convert_elem<To>(x[i]);
  });
}

template <typename From>
void from_typed(DType to, const From* x, void* y, int64_t n, int threads) {
#define SPARQ_CAST_TO(T) return cast_loop(x, static_cast<T*>(y), n, threads);
  SPARQ_DISPATCH_ALL(to, SPARQ_CAST_TO)
#undef SPARQ_CAST_TO
  detail::unsupported_dtype("Cast", to);
}

}  // namespace

void cast(DType from, DType to, const void* x, void* y, int64_t n, const OpContext& ctx) {
  if (n < 0) throw invalid_argument("Expected a non-negative element count for Cast");
  dtype_size(to);  // validates `to` before anything is written
#define SPARQ_CAST_FROM(T) return from_typed(to, static_cast<const T*>(x), y, n, ctx.threads);
  SPARQ_DISPATCH_ALL(from, SPARQ_CAST_FROM)
#undef SPARQ_CAST_FROM
  detail::unsupported_dtype("Cast", from);
}

}  // namespace sparq
