// Scalar quantization kernels: the range scan and the float -> 8-bit quantizer (division by the
// scale and round-half-to-even, as ONNX Runtime's MLAS, so results match it bit for bit).
#include <algorithm>

#include "sparq/ops_kernels.h"

namespace sparq {

void minmax_f32_scalar(const float* x, int64_t n, float* lo, float* hi) {
  float l = *lo, h = *hi;
  for (int64_t i = 0; i < n; ++i) {
    l = x[i] < l ? x[i] : l;  // comparisons with NaN are false: NaN is skipped
    h = x[i] > h ? x[i] : h;
  }
  *lo = l;
  *hi = h;
}

void quantize_f32_scalar(const float* x, int64_t n, float scale, float zp, bool is_signed, void* y) {
  const float qlo = is_signed ? -128.0f : 0.0f, qhi = is_signed ? 127.0f : 255.0f;
  const float magic = 12582912.0f;  // 1.5·2^23: (v + magic) - magic rounds half to even for |v| < 2^22
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i] / scale;
    v = v == v ? std::min(std::max(v, -1024.0f), 1024.0f) : 0.0f;  // NaN -> 0 before the zero point
    v = (v + magic) - magic;  // not folded: the build has no -ffast-math
    v = std::min(std::max(v + zp, qlo), qhi);
    if (is_signed)
      static_cast<int8_t*>(y)[i] = static_cast<int8_t>(v);
    else
      static_cast<uint8_t*>(y)[i] = static_cast<uint8_t>(v);
  }
}

}  // namespace sparq
