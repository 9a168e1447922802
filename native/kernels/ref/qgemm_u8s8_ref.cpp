// Scalar u8·s8 GEMM on MatMulInteger's packed layout (ops_kernels.h): the reference for the VNNI
// kernel and the fallback. Accumulates in uint32 so a wrap is defined, like vpdpbusd's.
#include <vector>

#include "sparq/ops_kernels.h"

namespace sparq {

void qgemm_u8s8_scalar(int64_t M, int64_t N, int64_t Kp, const uint8_t* A, int64_t lda, const int8_t* Bp, int32_t* C,
                       int64_t ldc, const QgemmEpilogue* ep) {
  uint32_t acc[16];
  for (int64_t p = 0; p * 16 < N; ++p) {
    const int8_t* panel = Bp + p * Kp * 16;
    const int64_t cols = N - p * 16 < 16 ? N - p * 16 : 16;
    for (int64_t m = 0; m < M; ++m) {
      const uint8_t* a = A + m * lda;
      for (auto& v : acc) v = 0;
      for (int64_t q = 0; q < Kp / 4; ++q) {
        const int8_t* g = panel + q * 64;
        for (int j = 0; j < 16; ++j) {
          int32_t s = 0;
          for (int t = 0; t < 4; ++t) s += static_cast<int32_t>(a[4 * q + t]) * g[4 * j + t];
          acc[j] += static_cast<uint32_t>(s);
        }
      }
      for (int64_t j = 0; j < cols; ++j) {
        const int64_t n = p * 16 + j;
        uint32_t v = acc[j];
        if (ep)
          v += static_cast<uint32_t>(ep->u[m]) * static_cast<uint32_t>(ep->v[n]) +
               static_cast<uint32_t>(ep->w[m]) * static_cast<uint32_t>(ep->x[n]);
        C[m * ldc + n] = static_cast<int32_t>(v);
      }
    }
  }
}

}  // namespace sparq
