// CRC-32 by folding (Intel, "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ"): four
// 128-bit lanes each multiplied by x^(512) mod P and added to the next 64 bytes, then folded into one
// lane. The constants are x^k mod P for the reflected IEEE polynomial. The last 128 bits are left to
// the caller's table loop (sparq/crc32.h): no Barrett reduction to get wrong.
#include <immintrin.h>

#include "sparq/crc32.h"

#pragma GCC target("pclmul,sse4.1")

namespace sparq {
namespace {

inline __m128i fold(__m128i x, __m128i k, __m128i next) {
  return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11)), next);
}

inline __m128i load(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }

}  // namespace

size_t crc32_fold_pclmul(uint32_t state, const uint8_t* data, size_t size, uint8_t rest[16]) {
  const __m128i k512 = _mm_set_epi64x(0x01c6e41596, 0x0154442bd4);  // fold 4 lanes over 64 bytes
  const __m128i k128 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0);  // fold 1 lane over 16 bytes
  const uint8_t* p = data;
  __m128i x0 = _mm_xor_si128(load(p), _mm_cvtsi32_si128(static_cast<int>(state)));
  __m128i x1 = load(p + 16), x2 = load(p + 32), x3 = load(p + 48);
  p += 64;
  size_t left = size - 64;
  for (; left >= 64; p += 64, left -= 64) {
    x0 = fold(x0, k512, load(p));
    x1 = fold(x1, k512, load(p + 16));
    x2 = fold(x2, k512, load(p + 32));
    x3 = fold(x3, k512, load(p + 48));
  }
  x0 = fold(x0, k128, x1);
  x0 = fold(x0, k128, x2);
  x0 = fold(x0, k128, x3);
  for (; left >= 16; p += 16, left -= 16) x0 = fold(x0, k128, load(p));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(rest), x0);
  return static_cast<size_t>(p - data);
}

}  // namespace sparq
