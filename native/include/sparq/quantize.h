// Dynamic activation quantization: fp32 rows -> u8 (asymmetric), the A side of every int8 GEMM
// (the "int8" and "sparse-int8" formats). The real value of a code q in row m is
//     x ≈ scales[m] · (q − zero_points[m]).
//
// Exact semantics (every implementation — scalar, AVX-512 — produces the same bytes, scales and
// zero points; the tests check it bit for bit):
//   * range: lo = min(0, min x), hi = max(0, max x) over the row (per_tensor: over all of x), so 0.0 is
//     always exactly representable (as ONNX DynamicQuantizeLinear does).
//   * scale = float((double(hi) − double(lo)) / 255)   (double: no overflow for |x| near FLT_MAX).
//     A scale that is 0 (all-zero row, or a range so small it underflows) becomes 1 with zero point 0:
//     the row is stored as all zeros and dequantizes to exactly 0.
//   * zero_point = clamp(round(−lo / scale), 0, 255)    (fp32 division)
//   * q = clamp(round(x / scale) + zero_point, 0, 255)   (fp32 division, then integer add and clamp)
//   * round = round half to even (the default floating-point environment; SIMD uses it explicitly).
//   * non-finite input: a row holding any NaN or ±Inf gets scale = NaN, zero_point = 0 and all-zero
//     codes, so every output of that row of a GEMM is NaN (never undefined behaviour, never a silent
//     finite value). With per_tensor, one non-finite value anywhere makes every row NaN.
//   * padding: columns [K, k_padded) of each output row are set to zero_point (the code of 0.0), so
//     a kernel reading whole 4-byte (or wider) groups sees zeros there.
//   * scales and zero_points always have M entries; per_tensor fills them with the same values.
#pragma once
#include <cmath>
#include <cstdint>

#include "sparq/cpu.h"

namespace sparq {

struct U8QuantParams {
  float scale;
  int32_t zero_point;
};

// From a row's (or tensor's) range and finiteness to its parameters: the one definition every
// implementation calls, so they agree exactly.
inline U8QuantParams choose_u8_params(float min_value, float max_value, bool finite) {
  if (!finite) return {std::nanf(""), 0};
  const float lo = min_value < 0.0f ? min_value : 0.0f;
  const float hi = max_value > 0.0f ? max_value : 0.0f;
  const float scale = static_cast<float>((static_cast<double>(hi) - static_cast<double>(lo)) / 255.0);
  if (!(scale > 0.0f)) return {1.0f, 0};
  float zp = std::nearbyint(-lo / scale);
  zp = zp < 0.0f ? 0.0f : (zp > 255.0f ? 255.0f : zp);
  return {scale, static_cast<int32_t>(zp)};
}

// Quantizes x[M, K] (row-major, rows K floats apart) into out[M, k_padded] (rows k_padded bytes apart,
// k_padded >= K). Dispatches to the best implementation for active_isa().
void quantize_rows_u8(const float* x, int64_t M, int64_t K, int64_t k_padded, uint8_t* out, float* scales,
                      int32_t* zero_points, bool per_tensor = false);
// The same with an explicit level (tests; packing for a forced ISA). Levels without a SIMD version
// use the scalar one.
void quantize_rows_u8(Isa isa, const float* x, int64_t M, int64_t K, int64_t k_padded, uint8_t* out, float* scales,
                      int32_t* zero_points, bool per_tensor);

// The implementations (kernels/ref/quantize_ref.cpp, kernels/x86/quantize_avx512.cpp).
void quantize_rows_u8_scalar(const float* x, int64_t M, int64_t K, int64_t k_padded, uint8_t* out, float* scales,
                             int32_t* zero_points, bool per_tensor);
void quantize_rows_u8_avx512(const float* x, int64_t M, int64_t K, int64_t k_padded, uint8_t* out, float* scales,
                             int32_t* zero_points, bool per_tensor);

}  // namespace sparq
