// Scalar u8 activation quantization: the reference the SIMD versions must match byte for byte
// (semantics in sparq/quantize.h).
#include <cmath>
#include <cstring>

#include "sparq/quantize.h"

namespace sparq {
namespace {

void accumulate_stats(const float* x, int64_t K, U8RowStats& s) {
  for (int64_t k = 0; k < K; ++k) {
    const float v = x[k];
    if (!std::isfinite(v)) {
      s.finite = false;
      return;
    }
    s.min_value = v < s.min_value ? v : s.min_value;
    s.max_value = v > s.max_value ? v : s.max_value;
  }
}

void quantize_row(const float* x, int64_t K, int64_t k_padded, U8QuantParams p, uint8_t* out) {
  if (std::isnan(p.scale)) {
    std::memset(out, 0, static_cast<size_t>(k_padded));
    return;
  }
  const float inv = u8_inverse_scale(p.scale);
  for (int64_t k = 0; k < K; ++k) {
    int32_t q = static_cast<int32_t>(std::nearbyint(x[k] * inv)) + p.zero_point;
    q = q < 0 ? 0 : (q > 255 ? 255 : q);
    out[k] = static_cast<uint8_t>(q);
  }
  std::memset(out + K, p.zero_point, static_cast<size_t>(k_padded - K));
}

}  // namespace

void quantize_rows_u8_scalar(const float* x, int64_t M, int64_t K, int64_t k_padded, uint8_t* out, float* scales,
                             int32_t* zero_points, bool per_tensor) {
  quantize_rows_u8_with(x, M, K, k_padded, out, scales, zero_points, per_tensor, accumulate_stats, quantize_row);
}

}  // namespace sparq
