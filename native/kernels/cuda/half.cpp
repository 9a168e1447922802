// IEEE fp16 <-> fp32 on the host (round to nearest even, subnormals, inf/NaN kept), for packing
// weights and building test references without CUDA headers.
#include <cstring>

#include "sparq/cuda.h"

namespace sparq::cuda {

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) return uint16_t(sign | (abs > 0x7f800000u ? 0x7e00u : 0x7c00u));  // NaN / inf
  if (abs >= 0x477ff000u) return uint16_t(sign | 0x7c00u);                                  // rounds past 65504
  if (abs < 0x38800000u) {                                                                  // subnormal or zero
    if (abs < 0x33000000u) return uint16_t(sign);                                           // below half the smallest
    const uint32_t shift = 126 - (abs >> 23);  // 14..24
    const uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    uint32_t h = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (h & 1))) ++h;
    return uint16_t(sign | h);
  }
  uint32_t h = ((abs >> 13) - (112u << 10));
  const uint32_t rem = abs & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) ++h;
  return uint16_t(sign | h);
}

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ffu, x;
  if (exp == 0x1f) {
    x = sign | 0x7f800000u | (mant << 13);
  } else if (exp == 0) {
    if (mant == 0) {
      x = sign;
    } else {
      exp = 113;
      while (!(mant & 0x400u)) { mant <<= 1; --exp; }
      x = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
    }
  } else {
    x = sign | ((exp + 112) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

}  // namespace sparq::cuda
