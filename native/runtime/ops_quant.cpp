// int8 quantization ops: DynamicQuantizeLinear, QuantizeLinear, DequantizeLinear (per tensor and per
// axis). Division by the scale (not multiplication by its reciprocal) and round-half-to-even, as
// ONNX Runtime's MLAS does, so results match it bit for bit.
#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>

#include "ops_broadcast.h"
#include "sparq/error.h"
#include "sparq/ops.h"
#include "sparq/ops_kernels.h"
#include "sparq/threadpool.h"

namespace sparq {
namespace {

// x viewed as [outer, channels, inner]: runs of one channel go to the table's quantizer.
template <typename Q>
void quantize_typed(const float* x, int64_t outer, int64_t channels, int64_t inner, const float* scale, const Q* zp,
                    Q* y, const OpContext& ctx) {
  const OpsKernels& k = ops_kernels(ctx.isa);
  const int64_t rows = outer * channels;
  detail::parallel_elements(rows * inner, ctx.threads, 4.0, [&](int64_t e0, int64_t e1) {
    for (int64_t e = e0; e < e1;) {
      const int64_t row = e / inner, c = row % channels;
      const int64_t end = std::min(e1, (row + 1) * inner);
      k.quantize_f32(x + e, end - e, scale[c], zp ? static_cast<float>(zp[c]) : 0.0f, std::is_signed<Q>::value, y + e);
      e = end;
    }
  });
}

template <typename X>
void dequantize_typed(const X* x, int64_t outer, int64_t channels, int64_t inner, const float* scale, const X* zp,
                      float* y, int threads) {
  const int64_t rows = outer * channels;
  detail::parallel_elements(rows * inner, threads, 1.0, [&](int64_t e0, int64_t e1) {
    for (int64_t e = e0; e < e1;) {
      const int64_t row = e / inner, c = row % channels;
      const int64_t end = std::min(e1, (row + 1) * inner);
      const float s = scale[c];
      const int64_t z = zp ? static_cast<int64_t>(zp[c]) : 0;
      for (; e < end; ++e) y[e] = static_cast<float>(static_cast<int64_t>(x[e]) - z) * s;
    }
  });
}

void check_qdims(const char* op, int64_t outer, int64_t channels, int64_t inner, const float* scale) {
  if (outer < 0 || channels < 1 || inner < 0)
    throw invalid_argument(std::string(op) + ": expected outer >= 0, channels >= 1, inner >= 0");
  if (!scale) throw invalid_argument(std::string(op) + ": expected a scale");
}

}  // namespace

void dynamic_quantize_linear(const float* x, int64_t n, uint8_t* y, float* scale, uint8_t* zero_point,
                             const OpContext& ctx) {
  if (n < 0) throw invalid_argument("DynamicQuantizeLinear: expected a non-negative element count");
  // Range including 0; NaN never compares, so it is skipped.
  const OpsKernels& k = ops_kernels(ctx.isa);
  float lo = 0.0f, hi = 0.0f;
  k.minmax_f32(x, n, &lo, &hi);
  const float s = hi == lo ? 1.0f : (hi - lo) / 255.0f;
  float zf = 0.0f - lo / s;
  zf = std::min(std::max(zf, 0.0f), 255.0f);
  const uint8_t z = static_cast<uint8_t>(std::nearbyint(zf));  // default rounding mode: half to even
  *scale = s;
  *zero_point = z;
  quantize_typed<uint8_t>(x, 1, 1, n, &s, &z, y, ctx);
}

void quantize_linear(const float* x, int64_t outer, int64_t channels, int64_t inner, const float* scale, DType qtype,
                     const void* zero_point, void* y, const OpContext& ctx) {
  check_qdims("QuantizeLinear", outer, channels, inner, scale);
  if (qtype == DType::uint8)
    return quantize_typed(x, outer, channels, inner, scale, static_cast<const uint8_t*>(zero_point),
                          static_cast<uint8_t*>(y), ctx);
  if (qtype == DType::int8)
    return quantize_typed(x, outer, channels, inner, scale, static_cast<const int8_t*>(zero_point),
                          static_cast<int8_t*>(y), ctx);
  throw Error("ERR_UNSUPPORTED_DTYPE", std::string("QuantizeLinear to ") + dtype_name(qtype) + " is not supported");
}

void dequantize_linear(const void* x, DType xtype, int64_t outer, int64_t channels, int64_t inner, const float* scale,
                       const void* zero_point, float* y, const OpContext& ctx) {
  check_qdims("DequantizeLinear", outer, channels, inner, scale);
  switch (xtype) {
    case DType::uint8:
      return dequantize_typed(static_cast<const uint8_t*>(x), outer, channels, inner, scale,
                              static_cast<const uint8_t*>(zero_point), y, ctx.threads);
    case DType::int8:
      return dequantize_typed(static_cast<const int8_t*>(x), outer, channels, inner, scale,
                              static_cast<const int8_t*>(zero_point), y, ctx.threads);
    case DType::int32: {
      const auto* z = static_cast<const int32_t*>(zero_point);
      if (z)
        for (int64_t c = 0; c < channels; ++c)
          if (z[c] != 0) throw invalid_argument("DequantizeLinear: an int32 input requires a zero point of 0");
      return dequantize_typed(static_cast<const int32_t*>(x), outer, channels, inner, scale, z, y, ctx.threads);
    }
    default:
      throw Error("ERR_UNSUPPORTED_DTYPE", std::string("DequantizeLinear from ") + dtype_name(xtype) + " is not supported");
  }
}

}  // namespace sparq
