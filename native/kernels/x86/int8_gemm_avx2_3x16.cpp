// int8 GEMM for AVX2 without VNNI: vpmaddubsw multiplies u8 x s8 and adds adjacent pairs into s16
// WITH SATURATION. It can never saturate here because this kernel's weights are quantized to 7 bits
// (|w| <= 63, Int8GemmKernels::weight_max): |a0·w0 + a1·w1| <= 2 · 255 · 63 = 32130 < 32767. Then
// vpmaddwd with ones widens the pairs into s32 exactly. The accuracy cost: the weight step is twice
// as coarse as with 8 bits (quantization error ~2x; the handle reports it), in exchange for one
// multiply instruction per 32 MACs instead of the split-product sequence.
#include "int8_tile_avx2.h"

namespace sparq {
namespace {

struct MaddubswDot {
  static __m256i step(__m256i acc, __m256i a, __m256i b) {
    const __m256i pairs = _mm256_maddubs_epi16(a, b);  // exact: 7-bit weights (see above)
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
  }
};

void tile(const Int8TileArgs& t) { avx2::int8_tile<MaddubswDot, 3>(t); }

}  // namespace

extern const Int8GemmKernels kInt8GemmAvx2 = {"avx2_maddubs7_3x16", 3, 16, 63, 0, tile};

}  // namespace sparq
