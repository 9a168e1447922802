// Scalar reference of the weight-only kernels (sparq/weight_only.h): the activation quantizer every
// kernel shares, and the decode product in the exact order of operations the SIMD kernels use (the
// integer dot product per group, then one fused multiply-add per group), so they agree bit for bit.
#include <algorithm>
#include <cmath>
#include <limits>

#include "sparq/weight_only.h"

namespace sparq {

void quantize_wo_activations(const float* x, int64_t M, int64_t K, int64_t group, int64_t groups, int8_t* q,
                             float* scale, float* sum) {
  const int64_t ldq = groups * group;
  for (int64_t m = 0; m < M; ++m) {
    const float* row = x + m * K;
    int8_t* qrow = q + m * ldq;
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t k0 = g * group, k1 = std::min(K, k0 + group);
      float maxabs = 0.0f;
      bool finite = true;
      for (int64_t k = k0; k < k1; ++k) {
        const float a = std::fabs(row[k]);
        if (!(a <= std::numeric_limits<float>::max())) finite = false;
        else maxabs = std::max(maxabs, a);
      }
      int32_t s = 0;
      if (!finite || maxabs == 0.0f) {
        for (int64_t k = k0; k < k0 + group; ++k) qrow[k] = 0;
        scale[m * groups + g] = finite ? 0.0f : std::numeric_limits<float>::quiet_NaN();
      } else {
        const float inv = 127.0f / maxabs;
        for (int64_t k = k0; k < k1; ++k) {
          const float v = std::max(-127.0f, std::min(127.0f, std::nearbyint(row[k] * inv)));
          qrow[k] = static_cast<int8_t>(v);
          s += qrow[k];
        }
        for (int64_t k = k1; k < k0 + group; ++k) qrow[k] = 0;
        scale[m * groups + g] = maxabs / 127.0f;
      }
      sum[m * groups + g] = static_cast<float>(s);
    }
  }
}

namespace {

void wo_gemv_scalar(const WoPackedB& b, const WoActivations& a, int M, int64_t p0, int64_t p1, float* y, int64_t ldy,
                    const Epilogue& ep) {
  const int64_t G = b.group;
  for (int64_t p = p0; p < p1; ++p) {
    float acc[kWoMaxRows][kWoPanel] = {};
    for (int64_t g = 0; g < b.groups; ++g) {
      const uint8_t* codes = b.block_codes(p, g);
      const uint16_t* sc = b.block_scales(p, g);
      const uint8_t* zp = b.block_zeros(p, g);
      for (int m = 0; m < M; ++m) {
        const int8_t* xq = a.q + m * a.ldq + g * G;
        const float sx = a.scale[m * a.groups + g];
        const float sumx = a.sum[m * a.groups + g];
        for (int n = 0; n < kWoPanel; ++n) {
          int32_t dot = 0;
          for (int64_t k = 0; k < G; ++k) {
            int code;
            if (b.bits == 4) {
              const uint8_t byte = codes[(k / 8) * 64 + n * 4 + (k % 4)];
              code = (k % 8) < 4 ? (byte & 0x0f) : (byte >> 4);
            } else {
              code = codes[(k / 4) * 64 + n * 4 + (k % 4)];
            }
            dot += code * xq[k];
          }
          const float z = static_cast<float>(zp ? zp[n] : b.fixed_zero());
          // Exact: both terms and the difference are integers below 2^24.
          const float t = std::fma(-z, sumx, static_cast<float>(dot));
          acc[m][n] = std::fma(t, bf16_to_float(sc[n]) * sx, acc[m][n]);
        }
      }
    }
    const int64_t n0 = p * kWoPanel, cols = std::min<int64_t>(kWoPanel, b.N - n0);
    for (int m = 0; m < M; ++m) {
      float* out = y + m * ldy + n0;
      for (int64_t n = 0; n < cols; ++n) out[n] = acc[m][n];
      apply_epilogue_row(out, n0, cols, ep);
    }
  }
}

}  // namespace

const WoKernels kWoScalar = {"wo-scalar", wo_gemv_scalar};

}  // namespace sparq
