// int8 GEMM for AVX-VNNI (VEX-encoded vpdpbusd on ymm, e.g. Alder Lake, Zen 5 without AVX-512):
// exact u8 x s8 -> s32 with full 8-bit weights. Selected only when CPUID reports AVX-VNNI
// (leaf 7 sub-leaf 1, EAX bit 4); the development machine does not, so this kernel is compiled and
// type-checked here but exercised only on such CPUs (the tests run it whenever the bit is set).
#include "int8_tile_avx2.h"

namespace sparq {
namespace {

struct VnniDot {
  static __m256i step(__m256i acc, __m256i a, __m256i b) { return _mm256_dpbusd_avx_epi32(acc, a, b); }
};

void tile(const Int8TileArgs& t) { avx2::int8_tile<VnniDot, 4>(t); }

}  // namespace

extern const Int8GemmKernels kInt8GemmAvxVnni = {"avxvnni_4x16", 4, 16, 127, 0, tile};

}  // namespace sparq
