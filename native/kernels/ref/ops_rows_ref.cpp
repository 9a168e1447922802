// Scalar row kernels: softmax / log-softmax and layer normalization of contiguous rows, with double
// accumulation (the reference the AVX-512 versions are compared with).
#include <cmath>

#include "sparq/ops_kernels.h"

namespace sparq {

void softmax_rows_scalar(const float* x, float* y, int64_t rows, int64_t cols, bool log) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    float m = -INFINITY;
    for (int64_t j = 0; j < cols; ++j)
      if (xr[j] > m) m = xr[j];
    double sum = 0.0;
    if (log) {
      for (int64_t j = 0; j < cols; ++j) sum += std::exp(static_cast<double>(xr[j]) - m);
      const double shift = m + std::log(sum);
      for (int64_t j = 0; j < cols; ++j) yr[j] = static_cast<float>(xr[j] - shift);
    } else {
      for (int64_t j = 0; j < cols; ++j) {
        const float e = std::exp(xr[j] - m);
        yr[j] = e;
        sum += e;
      }
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t j = 0; j < cols; ++j) yr[j] *= inv;
    }
  }
}

void layer_norm_rows_scalar(const float* x, float* y, int64_t rows, int64_t cols, const float* gamma, const float* beta,
                            float eps, float* mean, float* inv_std) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    double s = 0.0;
    for (int64_t j = 0; j < cols; ++j) s += xr[j];
    const double mu = cols ? s / cols : 0.0;
    double v = 0.0;
    for (int64_t j = 0; j < cols; ++j) v += (xr[j] - mu) * (xr[j] - mu);
    const double var = cols ? v / cols : 0.0;
    const float is = static_cast<float>(1.0 / std::sqrt(var + eps));
    const float m = static_cast<float>(mu);
    for (int64_t j = 0; j < cols; ++j) {
      const float t = (xr[j] - m) * is * gamma[j];
      yr[j] = beta ? t + beta[j] : t;
    }
    if (mean) mean[r] = m;
    if (inv_std) inv_std[r] = is;
  }
}

extern const OpsKernels kOpsScalar = {"scalar",           unary_f32_scalar,       binary_f32_scalar,
                                      softmax_rows_scalar, layer_norm_rows_scalar, minmax_f32_scalar,
                                      quantize_f32_scalar};

}  // namespace sparq
