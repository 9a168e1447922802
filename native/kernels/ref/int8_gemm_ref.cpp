// Scalar int8 GEMM tile: the exact-integer reference every SIMD kernel is compared with (accumulators
// bit for bit) and the portable fallback. Reads any group width, so the tests can run it on the very
// bytes a SIMD kernel was packed for.
#include <cmath>
#include <cstring>

#include "sparq/int8_gemm.h"

namespace sparq {
namespace {

void tile(const Int8TileArgs& t) {
  const int64_t group_stride = static_cast<int64_t>(t.group) * 64;  // bytes per k-quad
  for (int i = 0; i < t.rows; ++i) {
    const uint8_t* a = t.a + i * t.a_row;
    for (int j = 0; j < t.cols; ++j) {
      const int8_t* b = t.b + (j / kInt8PanelCols) * 64 + (j % kInt8PanelCols) * 4;
      int32_t acc = 0;
      int32_t* part = t.part + i * t.ldpart + j;
      if (t.accumulate) std::memcpy(&acc, part, sizeof(acc));  // part may live in y's float memory
      for (int64_t q = 0; q < t.kq; ++q)
        for (int u = 0; u < 4; ++u)
          acc += static_cast<int32_t>(a[q * t.a_quad + u]) * static_cast<int32_t>(b[q * group_stride + u]);
      if (!t.y) {
        std::memcpy(part, &acc, sizeof(acc));
        continue;
      }
      // Wrapping s32 arithmetic like the SIMD kernels (exact whenever the true value fits, K <= kInt8MaxK).
      const int32_t corrected = static_cast<int32_t>(static_cast<uint32_t>(acc) -
                                                     static_cast<uint32_t>(t.zero_a[i]) * static_cast<uint32_t>(t.colsum[j]));
      float v = static_cast<float>(corrected) * (t.scale_a[i] * t.scale_b[j]);
      if (t.ep->bias) v += t.ep->bias[t.n0 + j];
      t.y[i * t.ldy + j] = apply_activation_ref(v, t.ep->act);
    }
  }
}

}  // namespace

extern const Int8GemmKernels kInt8GemmScalar = {"scalar_ref", 4, 16, 127, 0, tile};

}  // namespace sparq
