// Sparse int8 kernels for AVX2 (no VNNI on the CPUs that run this path): elements as words of their
// quad (sparq/spmm_int8.h) through
// vpmaddubsw + vpmaddwd. Weights are 7-bit (|code| <= 63) so the u8·s8 pair sums of vpmaddubsw
// (<= 2·255·63) never saturate and the s32 accumulators stay exact.
//   xt:   32-row tiles (4 ymm of 8 rows), two accumulator sets, 8x8 register transpose on the way out.
//   rows: per block a scalar 4-term dot product (memory-bound at M = 1 anyway).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "simd_avx2.h"
#include "sparq/spmm_int8.h"
#include "transpose_avx2.h"

namespace sparq {
namespace {

constexpr int kMaxV = 4;

inline void store_row(const SparseInt8View& w, __m256i acc, int64_t n, int cols, float sa, int32_t za, float* y,
                      const Epilogue& ep) {
  const __m256i mask = avx2::lanes(cols);
  const __m256i colsum = _mm256_maskload_epi32(w.colsum + n, mask);
  const __m256 sb = _mm256_maskload_ps(w.scale + n, mask);
  __m256 v = _mm256_cvtepi32_ps(_mm256_sub_epi32(acc, _mm256_mullo_epi32(_mm256_set1_epi32(za), colsum)));
  v = _mm256_mul_ps(v, _mm256_mul_ps(_mm256_set1_ps(sa), sb));
  _mm256_maskstore_ps(y, mask, avx2::epilogue(v, ep, n, mask));
}

inline __m256i dot(__m256i acc, __m256i x, __m256i w, __m256i ones) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(x, w), ones));
}

template <int kV>
void xt_kernel(const SparseInt8View& w, const uint8_t* xt, int rows, int64_t n0, int64_t n1, RowQuant rq, float* y,
               int64_t ldy, const Epilogue& ep, int32_t* acc_out, int64_t ldacc) {
  constexpr int kMt = 8 * kV;
  alignas(32) int32_t yt[8 * kMt];
  std::memset(yt, 0, sizeof(yt));
  const __m256i ones = _mm256_set1_epi16(1);
  const int64_t chunk_bytes = static_cast<int64_t>(kSpI8ChunkQuads) * kMt * 4;
  for (int64_t nb = n0; nb < n1; nb += 8) {
    const int cols = static_cast<int>(std::min<int64_t>(8, n1 - nb));
    for (int j = 0; j < cols; ++j) {
      const uint32_t* pp = w.ptr + (nb + j) * w.chunks;
      __m256i a0[kV], a1[kV];
      for (int v = 0; v < kV; ++v) a0[v] = a1[v] = _mm256_setzero_si256();
      for (int64_t c = 0; c < w.chunks; ++c) {
        const uint8_t* xc = xt + c * chunk_bytes;
        uint32_t e = pp[c];
        const uint32_t e1 = pp[c + 1];
        for (; e + 2 <= e1; e += 2) {
          const uint8_t* x0 = xc + element_quad(w, e) * (kMt * 4);
          const uint8_t* x1 = xc + element_quad(w, e + 1) * (kMt * 4);
          const __m256i w0 = _mm256_set1_epi32(element_word(w, e)), w1 = _mm256_set1_epi32(element_word(w, e + 1));
          for (int v = 0; v < kV; ++v) {
            a0[v] = dot(a0[v], _mm256_load_si256(reinterpret_cast<const __m256i*>(x0 + 32 * v)), w0, ones);
            a1[v] = dot(a1[v], _mm256_load_si256(reinterpret_cast<const __m256i*>(x1 + 32 * v)), w1, ones);
          }
        }
        if (e < e1) {
          const uint8_t* x0 = xc + element_quad(w, e) * (kMt * 4);
          const __m256i w0 = _mm256_set1_epi32(element_word(w, e));
          for (int v = 0; v < kV; ++v)
            a0[v] = dot(a0[v], _mm256_load_si256(reinterpret_cast<const __m256i*>(x0 + 32 * v)), w0, ones);
        }
      }
      for (int v = 0; v < kV; ++v)
        _mm256_store_si256(reinterpret_cast<__m256i*>(yt + j * kMt + 8 * v), _mm256_add_epi32(a0[v], a1[v]));
    }
    for (int r0 = 0; r0 < rows; r0 += 8) {
      __m256 t[8];
      for (int i = 0; i < 8; ++i) t[i] = _mm256_castsi256_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(yt + i * kMt + r0)));
      transpose8x8(t);
      const int rcount = std::min(8, rows - r0);
      for (int i = 0; i < rcount; ++i) {
        const int m = r0 + i;
        const __m256i acc = _mm256_castps_si256(t[i]);
        if (acc_out)
          _mm256_maskstore_epi32(acc_out + m * ldacc + nb, avx2::lanes(cols), acc);
        else
          store_row(w, acc, nb, cols, rq.scale[m], rq.zero[m], y + m * ldy + nb, ep);
      }
    }
  }
}

inline int32_t dot4(const uint8_t* a, int32_t packed) {
  int8_t w[4];
  std::memcpy(w, &packed, 4);
  return a[0] * w[0] + a[1] * w[1] + a[2] * w[2] + a[3] * w[3];
}

void rows(const SparseInt8View& w, const uint8_t* xq, int64_t n0, int64_t n1, float sa, int32_t za, float* y,
          const Epilogue& ep, int32_t* acc_out) {
  alignas(32) int32_t sums[8];
  for (int64_t nb = n0; nb < n1; nb += 8) {
    const int cols = static_cast<int>(std::min<int64_t>(8, n1 - nb));
    for (int j = 0; j < cols; ++j) {
      const uint32_t* pp = w.ptr + (nb + j) * w.chunks;
      int32_t acc = 0;
      for (int64_t c = 0; c < w.chunks; ++c) {
        const uint8_t* xc = xq + c * kSpI8ChunkBytes;
        for (uint32_t e = pp[c]; e < pp[c + 1]; ++e) acc += dot4(xc + 4 * element_quad(w, e), element_word(w, e));
      }
      sums[j] = acc;
    }
    const __m256i acc = _mm256_load_si256(reinterpret_cast<const __m256i*>(sums));
    if (acc_out)
      _mm256_maskstore_epi32(acc_out + nb, avx2::lanes(cols), acc);
    else
      store_row(w, acc, nb, cols, sa, za, y + nb, ep);
  }
}

// Tile height: the number of vectors (<= 4) that pads the fewest rows; ties go to the taller tile.
int xt_rows(int64_t M) {
  int best = 1;
  int64_t best_pad = INT64_MAX;
  for (int v = kMaxV; v >= 1; v /= 2) {
    const int64_t mt = 8 * v, pad = (M + mt - 1) / mt * mt;
    if (pad < best_pad) best_pad = pad, best = v;
  }
  return 8 * best;
}

void xt(const SparseInt8View& w, const uint8_t* xt, int mt, int rows, int64_t n0, int64_t n1, RowQuant rq, float* y,
        int64_t ldy, const Epilogue& ep, int32_t* acc_out, int64_t ldacc) {
  switch (mt / 8) {
    case 4: return xt_kernel<4>(w, xt, rows, n0, n1, rq, y, ldy, ep, acc_out, ldacc);
    case 2: return xt_kernel<2>(w, xt, rows, n0, n1, rq, y, ldy, ep, acc_out, ldacc);
    default: return xt_kernel<1>(w, xt, rows, n0, n1, rq, y, ldy, ep, acc_out, ldacc);
  }
}

}  // namespace

extern const SpmmInt8Kernels kSpmmInt8Avx2 = {"avx2", 63, xt_rows, 8, xt, rows};

}  // namespace sparq
