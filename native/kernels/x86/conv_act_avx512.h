// The conv epilogue's activations on AVX-512 vectors (include only from AVX-512 kernel files): shared
// by the depthwise and the direct conv kernels.
#pragma once
#include <immintrin.h>

#include "sparq/conv.h"

namespace sparq {
namespace avx512 {

struct ConvActivation {
  ConvAct kind;
  __m512 lo, hi;
  // max_ps(a, b) returns b when either is NaN: with the value second, NaN goes through as in the reference.
  __m512 operator()(__m512 v) const {
    switch (kind) {
      case ConvAct::relu: return _mm512_max_ps(_mm512_setzero_ps(), v);
      case ConvAct::clip: return _mm512_min_ps(hi, _mm512_max_ps(lo, v));
      case ConvAct::hardswish: {
        const __m512 gate = _mm512_fmadd_ps(v, _mm512_set1_ps(1.0f / 6.0f), _mm512_set1_ps(0.5f));
        return _mm512_mul_ps(v, _mm512_min_ps(_mm512_set1_ps(1.0f), _mm512_max_ps(_mm512_setzero_ps(), gate)));
      }
      default: return v;
    }
  }
};

}  // namespace avx512
}  // namespace sparq
