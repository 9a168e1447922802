// Scalar dense fp32 GEMM: the reference oracle (double accumulation on unpacked W) and the portable
// fallback tile kernel (plain C++ over 4x8 tiles, compiled with no ISA flags).
#include <cstring>

#include "sparq/gemm_f32.h"

namespace sparq {

void gemm_f32_reference(const float* x, int64_t M, int64_t K, const float* W, int64_t N, float* y, const Epilogue& ep) {
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0.0;
      for (int64_t k = 0; k < K; ++k) acc += static_cast<double>(x[i * K + k]) * W[k * N + j];
      float v = static_cast<float>(acc);
      if (ep.bias) v += ep.bias[j];
      y[i * N + j] = apply_activation_ref(v, ep.act);
    }
  }
}

void pack_a_f32_portable(const float* x, int64_t lda, int rows, int64_t kb, float* dst, int64_t ld) {
  // memcpy, not float assignment: the element may be any 32-bit type (sparse-int8's u8 quads).
  for (int64_t k = 0; k < kb; ++k)
    for (int i = 0; i < rows; ++i) std::memcpy(dst + k * ld + i, x + i * lda + k, sizeof(float));
}

namespace {

constexpr int kMr = 4, kNr = 8;

void tile(int rows, int cols, int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate,
          const Epilogue* ep, int64_t n0) {
  float acc[kMr][kNr] = {};
  for (int64_t k = 0; k < kc; ++k)
    for (int i = 0; i < rows; ++i) {
      const float av = a[k * rows + i];
      for (int j = 0; j < kNr; ++j) acc[i][j] += av * b[k * kNr + j];
    }
  for (int i = 0; i < rows; ++i) {
    float* row = c + i * ldc;
    for (int j = 0; j < cols; ++j) row[j] = accumulate ? row[j] + acc[i][j] : acc[i][j];
    if (ep) apply_epilogue_row(row, n0, cols, *ep);
  }
}

void gemv(int64_t K, int cols, const float* x, const float* panel, float* y, const Epilogue& ep, int64_t n0) {
  float acc[kNr] = {};
  for (int64_t k = 0; k < K; ++k)
    for (int j = 0; j < kNr; ++j) acc[j] += x[k] * panel[k * kNr + j];
  std::memcpy(y, acc, sizeof(float) * static_cast<size_t>(cols));
  apply_epilogue_row(y, n0, cols, ep);
}

}  // namespace

extern const GemmF32Kernels kGemmF32Scalar = {"scalar_4x8", kMr, kNr, tile, gemv, pack_a_f32_portable, nullptr};

}  // namespace sparq
