// Shared by the op tests: naive index arithmetic (the reference side of every check) and tolerances.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "sparq/error.h"
#include "sparq/ops.h"

namespace sparq_test {

// Flat index into `in` of output element `flat` under numpy broadcasting to `out`.
inline int64_t broadcast_index(const sparq::Shape& out, const sparq::Shape& in, int64_t flat) {
  int64_t idx = 0, stride = 1;
  for (int d = out.rank - 1, i = in.rank - 1; d >= 0; --d, --i) {
    const int64_t coord = flat % out.dims[d];
    flat /= out.dims[d];
    if (i >= 0) {
      if (in.dims[i] != 1) idx += coord * stride;
      stride *= in.dims[i];
    }
  }
  return idx;
}

// Multi-index of `flat` in `s`.
inline std::vector<int64_t> unravel(const sparq::Shape& s, int64_t flat) {
  std::vector<int64_t> c(static_cast<size_t>(s.rank));
  for (int d = s.rank - 1; d >= 0; --d) {
    c[d] = flat % s.dims[d];
    flat /= s.dims[d];
  }
  return c;
}

inline int64_t ravel(const sparq::Shape& s, const std::vector<int64_t>& c) {
  int64_t f = 0;
  for (int d = 0; d < s.rank; ++d) f = f * s.dims[d] + c[d];
  return f;
}

// Both NaN, or equal within abs + rel·|want|.
inline bool close(float got, double want, double rel, double abs) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  return std::fabs(got - want) <= abs + rel * std::fabs(want);
}

template <typename F>
std::string error_code(F&& fn) {
  try {
    fn();
  } catch (const sparq::Error& e) {
    return e.code();
  }
  return "";
}

inline sparq::OpContext ctx_for(sparq::Isa isa, int threads = 1) {
  sparq::OpContext c;
  c.isa = isa;
  c.threads = threads;
  return c;
}

}  // namespace sparq_test
