// Sparse int8 kernels for AVX512-VNNI (sparq/spmm_int8.h; both layouts).
//   xt:   64-row tiles; per element (block or nonzero) one broadcast of its word and four vpdpbusd (16
//         rows each) against the transposed quads of A, two accumulator sets; s32 results transposed
//         16x16 in registers and dequantized on the way out.
//   rows: per output and chunk of 256 k, the chunk of the quantized row sits in four zmm. Words: two
//         vpermt2d + a blend pick the quads of 16 blocks at once for one vpdpbusd. Nonzeros: two
//         vpermi2b + a blend pick the activations of 64 nonzeros at once, and one vpdpbusd multiplies
//         them with their 64 codes (4 per lane: lanes are summed per output at the end anyway). No
//         gathers: they measured slower than scalar loads on this machine.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "simd_avx512.h"
#include "sparq/spmm_int8.h"
#include "transpose_avx512.h"

// vpermi2b (AVX512-VBMI): this file only runs where the dispatch saw it (spmm_int8_kernels).
#pragma GCC target("avx512vbmi")

namespace sparq {
namespace {

// Elements [e, e1) (at most 16 used) as 16 words of their quads: loaded (words layout) or built from
// the codes and the k offsets (nonzeros: the code shifted to byte k % 4).
inline __m512i words16(const SparseInt8View& w, uint32_t e, uint32_t e1) {
  const __mmask16 m = avx512::lanes(e1 - e);
  if (!w.codes) return _mm512_maskz_loadu_epi32(m, w.val + e);
  const __m512i k = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, w.idx + e));
  const __m512i code = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, w.codes + e));
  return _mm512_sllv_epi32(code, _mm512_slli_epi32(_mm512_and_si512(k, _mm512_set1_epi32(3)), 3));
}

constexpr int kMaxV = 4;

// Dequantize 16 outputs of one row from raw accumulators and store them (masked to `cols`).
inline void store_row(const SparseInt8View& w, __m512i acc, int64_t n, int cols, float sa, int32_t za, float* y,
                      const Epilogue& ep) {
  const __mmask16 mask = avx512::lanes(cols);
  const __m512i colsum = _mm512_maskz_loadu_epi32(mask, w.colsum + n);
  const __m512 sb = _mm512_maskz_loadu_ps(mask, w.scale + n);
  __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc, _mm512_mullo_epi32(_mm512_set1_epi32(za), colsum)));
  v = _mm512_mul_ps(v, _mm512_mul_ps(_mm512_set1_ps(sa), sb));
  _mm512_mask_storeu_ps(y, mask, avx512::epilogue(v, ep, n, mask));
}

template <int kV, bool kNonzeros>
void xt_kernel(const SparseInt8View& w, const uint8_t* xt, int rows, int64_t n0, int64_t n1, RowQuant rq, float* y,
               int64_t ldy, const Epilogue& ep, int32_t* acc_out, int64_t ldacc) {
  constexpr int kMt = 16 * kV;
  alignas(64) int32_t yt[16 * kMt];
  const int64_t chunk_bytes = static_cast<int64_t>(kSpI8ChunkQuads) * kMt * 4;
  for (int64_t nb = n0; nb < n1; nb += 16) {
    const int cols = static_cast<int>(std::min<int64_t>(16, n1 - nb));
    // Chunk by chunk for the 16 outputs, so the chunk of x (64 quads of MT rows: 4-16 KiB) stays in
    // L1 while their elements pick quads from it; each output's accumulators wait in yt in between.
    std::memset(yt, 0, sizeof(yt));
    for (int64_t c = 0; c < w.chunks; ++c) {
      const uint8_t* xc = xt + c * chunk_bytes;
      const auto quad = [&](uint32_t e) { return static_cast<int64_t>(kNonzeros ? w.idx[e] >> 2 : w.idx[e]); };
      for (int j = 0; j < cols; ++j) {
        const uint32_t* pp = w.ptr + (nb + j) * w.chunks;
        const uint32_t e1 = pp[c + 1];
        if (pp[c] == e1) continue;
        __m512i a0[kV], a1[kV];
        for (int v = 0; v < kV; ++v) {
          a0[v] = _mm512_load_si512(yt + j * kMt + 16 * v);
          a1[v] = _mm512_setzero_si512();
        }
        // 16 elements at a time: their weight words built in a register, and each word broadcast from
        // there (reading them back from memory stalls on store forwarding).
        for (uint32_t e = pp[c]; e < e1; e += 16) {
          const __m512i words = words16(w, e, e1);
          const int count = static_cast<int>(std::min<uint32_t>(16, e1 - e));
          int i = 0;
          for (; i + 2 <= count; i += 2) {
            const uint8_t* x0 = xc + quad(e + i) * (kMt * 4);
            const uint8_t* x1 = xc + quad(e + i + 1) * (kMt * 4);
            const __m512i w0 = _mm512_permutexvar_epi32(_mm512_set1_epi32(i), words);
            const __m512i w1 = _mm512_permutexvar_epi32(_mm512_set1_epi32(i + 1), words);
            for (int v = 0; v < kV; ++v) {
              a0[v] = _mm512_dpbusd_epi32(a0[v], _mm512_load_si512(x0 + 64 * v), w0);
              a1[v] = _mm512_dpbusd_epi32(a1[v], _mm512_load_si512(x1 + 64 * v), w1);
            }
          }
          if (i < count) {
            const uint8_t* x0 = xc + quad(e + i) * (kMt * 4);
            const __m512i w0 = _mm512_permutexvar_epi32(_mm512_set1_epi32(i), words);
            for (int v = 0; v < kV; ++v) a0[v] = _mm512_dpbusd_epi32(a0[v], _mm512_load_si512(x0 + 64 * v), w0);
          }
        }
        for (int v = 0; v < kV; ++v) _mm512_store_si512(yt + j * kMt + 16 * v, _mm512_add_epi32(a0[v], a1[v]));
      }
    }
    for (int r0 = 0; r0 < rows; r0 += 16) {
      __m512 t[16];
      for (int i = 0; i < 16; ++i) t[i] = _mm512_castsi512_ps(_mm512_load_si512(yt + i * kMt + r0));
      transpose16x16(t);
      const int rcount = std::min(16, rows - r0);
      for (int i = 0; i < rcount; ++i) {
        const int m = r0 + i;
        const __m512i acc = _mm512_castps_si512(t[i]);
        if (acc_out)
          _mm512_mask_storeu_epi32(acc_out + m * ldacc + nb, avx512::lanes(cols), acc);
        else
          store_row(w, acc, nb, cols, rq.scale[m], rq.zero[m], y + m * ldy + nb, ep);
      }
    }
  }
}

// Four outputs at a time share each chunk of x held in registers (four independent vpdpbusd chains),
// and no per-output horizontal sum: 16 outputs' vectors are transposed and added, giving their 16
// sums at once. `step` adds one output's elements [e, e1) of the chunk (x0..x3) to its vector.
template <class Step>
void rows_with(const SparseInt8View& w, const uint8_t* xq, int64_t n0, int64_t n1, float sa, int32_t za, float* y,
               const Epilogue& ep, int32_t* acc_out, Step step) {
  constexpr int kCols = 4;
  for (int64_t nb = n0; nb < n1; nb += 16) {
    const int cols = static_cast<int>(std::min<int64_t>(16, n1 - nb));
    __m512 part[16];
    for (int j0 = 0; j0 < 16; j0 += kCols) {
      __m512i acc[kCols];
      const uint32_t* pp[kCols];
#pragma GCC unroll 4
      for (int i = 0; i < kCols; ++i) {
        acc[i] = _mm512_setzero_si512();
        // Outputs past n1 repeat the last one (their lanes are never stored).
        pp[i] = w.ptr + (nb + std::min(j0 + i, cols - 1)) * w.chunks;
      }
      for (int64_t c = 0; c < w.chunks; ++c) {
        const uint8_t* xc = xq + c * kSpI8ChunkBytes;
        const __m512i x0 = _mm512_loadu_si512(xc), x1 = _mm512_loadu_si512(xc + 64);
        const __m512i x2 = _mm512_loadu_si512(xc + 128), x3 = _mm512_loadu_si512(xc + 192);
#pragma GCC unroll 4
        for (int i = 0; i < kCols; ++i) acc[i] = step(acc[i], pp[i][c], pp[i][c + 1], x0, x1, x2, x3);
      }
#pragma GCC unroll 4
      for (int i = 0; i < kCols; ++i) part[j0 + i] = _mm512_castsi512_ps(acc[i]);
    }
    transpose16x16(part);
    __m512i sum = _mm512_castps_si512(part[0]);
    for (int i = 1; i < 16; ++i) sum = _mm512_add_epi32(sum, _mm512_castps_si512(part[i]));
    if (acc_out)
      _mm512_mask_storeu_epi32(acc_out + nb, avx512::lanes(cols), sum);
    else
      store_row(w, sum, nb, cols, sa, za, y + nb, ep);
  }
}

void rows(const SparseInt8View& w, const uint8_t* xq, int64_t n0, int64_t n1, float sa, int32_t za, float* y,
          const Epilogue& ep, int32_t* acc_out) {
  if (w.codes) {
    // 64 nonzeros per step: their k offsets (bit 7: which half of the chunk) pick their activations.
    // One masked step covers the usual <= 64 nonzeros of an output in a chunk without a branch on the
    // count (an empty range gives an all-zero mask); longer ranges loop.
    rows_with(w, xq, n0, n1, sa, za, y, ep, acc_out,
              [&](__m512i sum, uint32_t e, uint32_t e1, __m512i x0, __m512i x1, __m512i x2, __m512i x3) {
                do {
                  const uint32_t count = e1 - e;
                  const __mmask64 m = count >= 64 ? ~__mmask64{0} : (__mmask64{1} << count) - 1;
                  // Whole-vector loads (kElementPad bytes of padding): lanes past the range read the
                  // next range's entries; zeroing their codes leaves them out (masked loads cost more).
                  const __m512i k = _mm512_loadu_si512(w.idx + e);
                  const __m512i code = _mm512_maskz_mov_epi8(m, _mm512_loadu_si512(w.codes + e));
                  const __m512i xv = _mm512_mask_blend_epi8(_mm512_movepi8_mask(k), _mm512_permutex2var_epi8(x0, k, x1),
                                                            _mm512_permutex2var_epi8(x2, k, x3));
                  sum = _mm512_dpbusd_epi32(sum, xv, code);
                  e += 64;
                } while (e < e1);
                return sum;
              });
    return;
  }
  // Words: 16 blocks per step; their quad offsets (bit 5: which half) pick their activation quads.
  rows_with(w, xq, n0, n1, sa, za, y, ep, acc_out,
            [&](__m512i sum, uint32_t e, uint32_t e1, __m512i x0, __m512i x1, __m512i x2, __m512i x3) {
              do {
                // Whole-vector loads as above: the words past the range are zeroed.
                const __m512i quad = _mm512_and_si512(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.idx + e))),
                                                      _mm512_set1_epi32(kSpI8ChunkQuads - 1));
                const __mmask16 upper = _mm512_test_epi32_mask(quad, _mm512_set1_epi32(32));
                const __m512i xv = _mm512_mask_blend_epi32(upper, _mm512_permutex2var_epi32(x0, quad, x1),
                                                           _mm512_permutex2var_epi32(x2, quad, x3));
                sum = _mm512_dpbusd_epi32(sum, xv, _mm512_maskz_mov_epi32(avx512::lanes(e1 - e), _mm512_loadu_si512(w.val + e)));
                e += 16;
              } while (e < e1);
              return sum;
            });
}

// Tile height: the number of vectors (<= 4) that pads the fewest rows; ties go to the taller tile.
int xt_rows(int64_t M) {
  int best = 1;
  int64_t best_pad = INT64_MAX;
  for (int v = kMaxV; v >= 1; v /= 2) {
    const int64_t mt = 16 * v, pad = (M + mt - 1) / mt * mt;
    if (pad < best_pad) best_pad = pad, best = v;
  }
  return 16 * best;
}

void xt(const SparseInt8View& w, const uint8_t* xt, int mt, int rows, int64_t n0, int64_t n1, RowQuant rq, float* y,
        int64_t ldy, const Epilogue& ep, int32_t* acc_out, int64_t ldacc) {
  const bool nz = w.codes != nullptr;
  switch (mt / 16) {
    case 4: return (nz ? xt_kernel<4, true> : xt_kernel<4, false>)(w, xt, rows, n0, n1, rq, y, ldy, ep, acc_out, ldacc);
    case 2: return (nz ? xt_kernel<2, true> : xt_kernel<2, false>)(w, xt, rows, n0, n1, rq, y, ldy, ep, acc_out, ldacc);
    default: return (nz ? xt_kernel<1, true> : xt_kernel<1, false>)(w, xt, rows, n0, n1, rq, y, ldy, ep, acc_out, ldacc);
  }
}

}  // namespace

extern const SpmmInt8Kernels kSpmmInt8Avx512Vnni = {"avx512vnni", 127, xt_rows, 16, xt, rows};

}  // namespace sparq
