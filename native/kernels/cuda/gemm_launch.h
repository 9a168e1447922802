// Host-side helpers shared by the GEMM entry points: argument checks (sparq::Error on bad input, so a
// caller's mistake never reaches the device as an out-of-bounds read) and launch of a tile config.
#pragma once
#include <cstdint>
#include <string>

#include "sparq/error.h"

namespace sparq::cuda::detail {

inline void check_dims(int64_t M, int64_t N, int64_t K) {
  const int64_t lim = int64_t(1) << 30;
  if (M < 0 || N < 0 || K < 0 || M > lim || N > lim || K > lim)
    throw invalid_argument("GEMM dimensions must be in [0, 2^30], got M=" + std::to_string(M) + " N=" +
                           std::to_string(N) + " K=" + std::to_string(K));
}

inline void check_operand(const void* ptr, int64_t ld, int64_t cols, int64_t rows, int ld_multiple, const char* name) {
  if (rows == 0 || cols == 0) return;
  if (!ptr) throw invalid_argument(std::string(name) + " must not be null");
  if (ld < cols) throw invalid_argument(std::string("leading dimension of ") + name + " (" + std::to_string(ld) +
                                        ") must be at least " + std::to_string(cols));
  if (ld_multiple > 1 && (ld % ld_multiple != 0 || reinterpret_cast<uintptr_t>(ptr) % 16 != 0))
    throw invalid_argument(std::string(name) + " must be 16-byte aligned with a leading dimension that is a multiple of " +
                           std::to_string(ld_multiple) + " (got " + std::to_string(ld) + ")");
}

}  // namespace sparq::cuda::detail
