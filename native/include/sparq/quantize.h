// Dynamic activation quantization: fp32 rows -> u8 (asymmetric), the A side of every int8 GEMM
// (the "int8" and "sparse-int8" formats). The real value of a code q in row m is
//     x ≈ scales[m] · (q − zero_points[m]).
//
// Exact semantics (every implementation — scalar, AVX-512 — produces the same bytes, scales and
// zero points; the tests check it bit for bit):
//   * range: lo = min(0, min x), hi = max(0, max x) over the row (per_tensor: over all of x), so 0.0 is
//     always exactly representable (as ONNX DynamicQuantizeLinear does).
//   * scale = float((double(hi) − double(lo)) / 255)   (double: no overflow for |x| near FLT_MAX).
//     A scale below FLT_MIN (an all-zero row, or a range under 255·FLT_MIN ≈ 3e-36, whose inverse would
//     overflow) becomes 1 with zero point 0: the row is stored as all zeros and dequantizes to exactly 0.
//   * zero_point = clamp(round(−lo / scale), 0, 255)    (fp32 division)
//   * q = clamp(round(x · inv) + zero_point, 0, 255) with inv = u8_inverse_scale(scale) = float(1 / scale),
//     computed once per row: an fp32 multiply per value instead of a division (quantization 20% faster).
//     x · inv can differ from x / scale by one ulp, so a value within an ulp of a rounding tie may round
//     the other way; |x − scale·(q − zero_point)| <= scale/2 holds up to that ulp.
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
  if (!(scale >= 1.17549435e-38f)) return {1.0f, 0};  // FLT_MIN: 1 / scale stays finite
  float zp = std::nearbyint(-lo / scale);
  zp = zp < 0.0f ? 0.0f : (zp > 255.0f ? 255.0f : zp);
  return {scale, static_cast<int32_t>(zp)};
}

// The per-row multiplier of the codes (see above); finite for every scale choose_u8_params returns.
inline float u8_inverse_scale(float scale) { return 1.0f / scale; }

// Quantizes x[M, K] (row-major, rows K floats apart) into out[M, k_padded] (rows k_padded bytes apart,
// k_padded >= K). Dispatches to the best implementation for active_isa().
void quantize_rows_u8(const float* x, int64_t M, int64_t K, int64_t k_padded, uint8_t* out, float* scales,
                      int32_t* zero_points, bool per_tensor = false);
// The same with an explicit level (tests; packing for a forced ISA). Levels without a SIMD version
// use the scalar one.
void quantize_rows_u8(Isa isa, const float* x, int64_t M, int64_t K, int64_t k_padded, uint8_t* out, float* scales,
                      int32_t* zero_points, bool per_tensor);

// Running min/max of a row (or of all rows, per tensor); `finite` false once a NaN/Inf is seen.
struct U8RowStats {
  float min_value = 0.0f, max_value = 0.0f;
  bool finite = true;
};

// The loop every implementation shares: statistics per row (or over all rows), parameters, codes.
// `stats(x, K, U8RowStats&)` and `row(x, K, k_padded, U8QuantParams, out)` are the ISA-specific parts.
template <typename Stats, typename Row>
void quantize_rows_u8_with(const float* x, int64_t M, int64_t K, int64_t k_padded, uint8_t* out, float* scales,
                           int32_t* zero_points, bool per_tensor, Stats stats, Row row) {
  U8RowStats total;
  if (per_tensor)
    for (int64_t m = 0; m < M && total.finite; ++m) stats(x + m * K, K, total);
  for (int64_t m = 0; m < M; ++m) {
    U8RowStats own;
    if (!per_tensor) stats(x + m * K, K, own);
    const U8RowStats& s = per_tensor ? total : own;
    const U8QuantParams p = choose_u8_params(s.min_value, s.max_value, s.finite);
    scales[m] = p.scale;
    zero_points[m] = p.zero_point;
    row(x + m * K, K, k_padded, p, out + m * k_padded);
  }
}

// The implementations (kernels/ref/quantize_ref.cpp, kernels/x86/quantize_avx512.cpp).
void quantize_rows_u8_scalar(const float* x, int64_t M, int64_t K, int64_t k_padded, uint8_t* out, float* scales,
                             int32_t* zero_points, bool per_tensor);
void quantize_rows_u8_avx512(const float* x, int64_t M, int64_t K, int64_t k_padded, uint8_t* out, float* scales,
                             int32_t* zero_points, bool per_tensor);

}  // namespace sparq
