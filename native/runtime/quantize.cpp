// Dispatch for u8 activation quantization (sparq/quantize.h): validates the shape arguments once
// and picks the implementation for the level.
#include "sparq/quantize.h"

#include "sparq/error.h"

namespace sparq {

void quantize_rows_u8(Isa isa, const float* x, int64_t M, int64_t K, int64_t k_padded, uint8_t* out, float* scales,
                      int32_t* zero_points, bool per_tensor) {
  if (M < 0 || K < 0 || k_padded < K) throw invalid_argument("quantize_rows_u8: need M >= 0, K >= 0 and k_padded >= K");
  if (M == 0) return;
#if defined(__x86_64__) || defined(__i386__)
  if (isa == Isa::avx512 && isa_supported(Isa::avx512)) {
    quantize_rows_u8_avx512(x, M, K, k_padded, out, scales, zero_points, per_tensor);
    return;
  }
#else
  (void)isa;
#endif
  quantize_rows_u8_scalar(x, M, K, k_padded, out, scales, zero_points, per_tensor);
}

void quantize_rows_u8(const float* x, int64_t M, int64_t K, int64_t k_padded, uint8_t* out, float* scales,
                      int32_t* zero_points, bool per_tensor) {
  quantize_rows_u8(active_isa(), x, M, K, k_padded, out, scales, zero_points, per_tensor);
}

}  // namespace sparq
