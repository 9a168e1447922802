// The strided GEMM's oracle: a plain triple loop with double accumulation (sgemm.h).
#include "sparq/sgemm.h"

namespace sparq {

void sgemm_reference(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                     int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const Epilogue* ep) {
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      double acc = 0.0;
      for (int64_t k = 0; k < K; ++k) {
        const float a = transA ? A[k * lda + m] : A[m * lda + k];
        const float b = transB ? B[n * ldb + k] : B[k * ldb + n];
        acc += static_cast<double>(a) * b;
      }
      float v = static_cast<float>(alpha * acc);
      if (beta != 0.0f) v += beta * C[m * ldc + n];
      C[m * ldc + n] = v;
    }
    if (ep) apply_epilogue_row(C + m * ldc, 0, N, *ep);
  }
}

}  // namespace sparq
