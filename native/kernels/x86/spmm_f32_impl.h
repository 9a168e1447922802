// The grouped-CSC sparse fp32 kernels (see sparq/spmm_f32.h), written once over a SIMD traits type S
// and instantiated by spmm_f32_avx512.cpp (16 lanes) and spmm_f32_avx2.cpp (8 lanes). Include only
// from a file compiled with the matching ISA flags. S provides:
//   V, W (lanes), zero(), load(p), set1(f), fmadd(a, b, c), add(a, b),
//   transpose(V r[W]) in place, store_epilogue(dst, v, ep, n0, cols) (masked to `cols` lanes),
//   kOwnUnstructuredRows and rows_unstructured(w, x, g0, g1, y): an ISA's own row kernel for C = 1,
//   L = 1 (raw sums into y), used instead of rows_raw's when the flag is set.
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "sparq/spmm_f32.h"

namespace sparq {
namespace spmm_impl {

// Accumulator vectors the xt kernel keeps per pass: C columns x V row vectors (x2 when C = 1, to
// break the FMA dependency chain), within the 16 (AVX2) or 32 (AVX-512) registers.
template <class S, int C>
constexpr int xt_vectors() {
  return S::W == 16 ? (C == 1 ? 4 : C == 4 ? 4 : C == 8 ? 2 : 1) : (C == 1 ? 4 : C == 4 ? 2 : 1);
}
// Columns of a group handled per pass over its entries (C = 16 on AVX2 takes two passes of 8).
template <class S, int C>
constexpr int xt_pass_cols() {
  return (S::W == 8 && C == 16) ? 8 : C;
}
template <class S>
constexpr int batch_cols(int C) {
  return C > S::W ? C : S::W;
}

// The output batch: columns gathered as yt[col][row] then transposed W x W in registers into rows.
// NV row vectors per tile (MT = W·NV); C = 1 runs U independent entry chains to cover FMA latency.
template <class S, int C, int L, int NV>
void xt_kernel(const SparseF32View& w, const float* xt, int rows, int64_t g0, int64_t g1, float* y, int64_t ldy,
               const Epilogue& ep) {
  using V = typename S::V;
  constexpr int W = S::W;
  constexpr int MT = W * NV;
  constexpr int CB = xt_pass_cols<S, C>();
  constexpr int B = C > W ? C : W;  // columns per batch
  constexpr int GB = B / C;         // groups per batch
  constexpr int U = C == 1 ? (NV == 1 ? 4 : 2) : 1;
  alignas(64) float yt[B * MT];
  std::memset(yt, 0, sizeof(yt));

  for (int64_t gb = g0; gb < g1; gb += GB) {
    const int64_t gend = std::min<int64_t>(gb + GB, g1);
    for (int64_t g = gb; g < gend; ++g) {
      const uint32_t e0 = w.ptr[g], e1 = w.ptr[g + 1];
      for (int cb0 = 0; cb0 < C; cb0 += CB) {
        V acc[U][CB][NV];
        for (int u = 0; u < U; ++u)
          for (int c = 0; c < CB; ++c)
            for (int v = 0; v < NV; ++v) acc[u][c][v] = S::zero();
        if constexpr (C == 1 && L == 1) {
          // U entries per step into U accumulator sets.
          uint32_t e = e0;
          for (; e + U <= e1; e += U)
            for (int u = 0; u < U; ++u) {
              const float* xk = xt + static_cast<int64_t>(w.idx[e + u]) * MT;
              const V wv = S::set1(w.val[e + u]);
              for (int v = 0; v < NV; ++v) acc[u][0][v] = S::fmadd(wv, S::load(xk + v * W), acc[u][0][v]);
            }
          for (; e < e1; ++e) {
            const float* xk = xt + static_cast<int64_t>(w.idx[e]) * MT;
            const V wv = S::set1(w.val[e]);
            for (int v = 0; v < NV; ++v) acc[0][0][v] = S::fmadd(wv, S::load(xk + v * W), acc[0][0][v]);
          }
        } else {
          for (uint32_t e = e0; e < e1; ++e) {
            const float* xk = xt + static_cast<int64_t>(w.idx[e]) * MT;
            const float* we = w.val + static_cast<int64_t>(e) * L * C + cb0;
            for (int l = 0; l < L; ++l) {
              const int u = l % U;
              V xv[NV];
              for (int v = 0; v < NV; ++v) xv[v] = S::load(xk + l * MT + v * W);
              for (int c = 0; c < CB; ++c) {
                const V wv = S::set1(we[l * C + c]);
                for (int v = 0; v < NV; ++v) acc[u][c][v] = S::fmadd(wv, xv[v], acc[u][c][v]);
              }
            }
          }
        }
        float* dst = yt + ((g - gb) * C + cb0) * MT;
        for (int c = 0; c < CB; ++c)
          for (int v = 0; v < NV; ++v) {
            V a = acc[0][c][v];
            for (int u = 1; u < U; ++u) a = S::add(a, acc[u][c][v]);
            S::store(dst + c * MT + v * W, a);
          }
      }
    }
    // Transpose the batch out: W columns x W rows at a time, epilogue fused into the row stores.
    const int64_t n0 = gb * C;
    const int cols = static_cast<int>(std::min<int64_t>(B, w.N - n0));
    for (int r0 = 0; r0 < rows; r0 += W) {
      for (int c0 = 0; c0 < cols; c0 += W) {
        V t[W];
        for (int i = 0; i < W; ++i) t[i] = S::load(yt + (c0 + i) * MT + r0);
        S::transpose(t);
        const int rcount = std::min(W, rows - r0);
        const int ccount = std::min(W, cols - c0);
        for (int i = 0; i < rcount; ++i) S::store_epilogue(y + (r0 + i) * ldy + n0 + c0, t[i], ep, n0 + c0, ccount);
      }
    }
  }
}

// One row of x, groups in order; raw sums go to y, then one vectorised epilogue pass.
template <int C, int L>
float* rows_raw(const SparseF32View& w, const float* x, int64_t g0, int64_t g1, float* y) {
  for (int64_t g = g0; g < g1; ++g) {
    const uint32_t e0 = w.ptr[g], e1 = w.ptr[g + 1];
    const int cols = static_cast<int>(std::min<int64_t>(C, w.N - g * C));
    float* out = y + g * C;
    if constexpr (C == 1 && L == 1) {
      // ~1 nonzero per cycle: index load, value load, x load, FMA; four chains.
      // Four indices per 8-byte load (split with shifts on the integer ports), four x values
      // inserted into one xmm and one vector FMA against four values: 1.5 loads per nonzero.
      __m128 a0 = _mm_setzero_ps(), a1 = _mm_setzero_ps();
      uint32_t e = e0;
      for (; e + 8 <= e1; e += 8) {
        uint64_t q0, q1;
        std::memcpy(&q0, w.idx + e, 8);
        std::memcpy(&q1, w.idx + e + 4, 8);
        const __m128 x0 = _mm_setr_ps(x[q0 & 0xffff], x[(q0 >> 16) & 0xffff], x[(q0 >> 32) & 0xffff], x[q0 >> 48]);
        const __m128 x1 = _mm_setr_ps(x[q1 & 0xffff], x[(q1 >> 16) & 0xffff], x[(q1 >> 32) & 0xffff], x[q1 >> 48]);
        a0 = _mm_fmadd_ps(x0, _mm_loadu_ps(w.val + e), a0);
        a1 = _mm_fmadd_ps(x1, _mm_loadu_ps(w.val + e + 4), a1);
      }
      a0 = _mm_add_ps(a0, a1);
      a0 = _mm_add_ps(a0, _mm_movehl_ps(a0, a0));
      a0 = _mm_add_ss(a0, _mm_shuffle_ps(a0, a0, 1));
      float s0 = _mm_cvtss_f32(a0);
      for (; e < e1; ++e) s0 += w.val[e] * x[w.idx[e]];
      out[0] = s0;
    } else if constexpr (C == 1 && L == 4) {
      __m128 a0 = _mm_setzero_ps(), a1 = _mm_setzero_ps();
      uint32_t e = e0;
      for (; e + 2 <= e1; e += 2) {
        a0 = _mm_fmadd_ps(_mm_loadu_ps(x + w.idx[e]), _mm_loadu_ps(w.val + 4 * static_cast<int64_t>(e)), a0);
        a1 = _mm_fmadd_ps(_mm_loadu_ps(x + w.idx[e + 1]), _mm_loadu_ps(w.val + 4 * static_cast<int64_t>(e) + 4), a1);
      }
      if (e < e1) a0 = _mm_fmadd_ps(_mm_loadu_ps(x + w.idx[e]), _mm_loadu_ps(w.val + 4 * static_cast<int64_t>(e)), a0);
      a0 = _mm_add_ps(a0, a1);
      a0 = _mm_add_ps(a0, _mm_movehl_ps(a0, a0));
      a0 = _mm_add_ss(a0, _mm_shuffle_ps(a0, a0, 1));
      out[0] = _mm_cvtss_f32(a0);
    } else if constexpr (C == 4) {
      __m128 a0 = _mm_setzero_ps(), a1 = _mm_setzero_ps();
      uint32_t e = e0;
      for (; e + 2 <= e1; e += 2) {
        a0 = _mm_fmadd_ps(_mm_set1_ps(x[w.idx[e]]), _mm_loadu_ps(w.val + 4 * static_cast<int64_t>(e)), a0);
        a1 = _mm_fmadd_ps(_mm_set1_ps(x[w.idx[e + 1]]), _mm_loadu_ps(w.val + 4 * static_cast<int64_t>(e) + 4), a1);
      }
      if (e < e1) a0 = _mm_fmadd_ps(_mm_set1_ps(x[w.idx[e]]), _mm_loadu_ps(w.val + 4 * static_cast<int64_t>(e)), a0);
      alignas(16) float tmp[4];
      _mm_store_ps(tmp, _mm_add_ps(a0, a1));
      for (int c = 0; c < cols; ++c) out[c] = tmp[c];
    } else {
      // C = 8 or 16: ymm halves.
      constexpr int H = C / 8;
      __m256 a0[H], a1[H];
      for (int h = 0; h < H; ++h) a0[h] = a1[h] = _mm256_setzero_ps();
      uint32_t e = e0;
      for (; e + 2 <= e1; e += 2) {
        const __m256 x0 = _mm256_set1_ps(x[w.idx[e]]), x1 = _mm256_set1_ps(x[w.idx[e + 1]]);
        const float* v0 = w.val + static_cast<int64_t>(e) * C;
        for (int h = 0; h < H; ++h) {
          a0[h] = _mm256_fmadd_ps(x0, _mm256_loadu_ps(v0 + 8 * h), a0[h]);
          a1[h] = _mm256_fmadd_ps(x1, _mm256_loadu_ps(v0 + C + 8 * h), a1[h]);
        }
      }
      if (e < e1) {
        const __m256 x0 = _mm256_set1_ps(x[w.idx[e]]);
        for (int h = 0; h < H; ++h)
          a0[h] = _mm256_fmadd_ps(x0, _mm256_loadu_ps(w.val + static_cast<int64_t>(e) * C + 8 * h), a0[h]);
      }
      alignas(32) float tmp[C];
      for (int h = 0; h < H; ++h) _mm256_store_ps(tmp + 8 * h, _mm256_add_ps(a0[h], a1[h]));
      for (int c = 0; c < cols; ++c) out[c] = tmp[c];
    }
  }
  return y;
}

template <class S, int C, int L>
void rows_kernel(const SparseF32View& w, const float* x, int64_t g0, int64_t g1, float* y, const Epilogue& ep) {
  if constexpr (C == 1 && L == 1 && S::kOwnUnstructuredRows)
    S::rows_unstructured(w, x, g0, g1, y);
  else
    rows_raw<C, L>(w, x, g0, g1, y);
  const int64_t n0 = g0 * C, n1 = std::min<int64_t>(g1 * C, w.N);
  for (int64_t n = n0; n < n1; n += S::W) {
    const int cols = static_cast<int>(std::min<int64_t>(S::W, n1 - n));
    S::store_epilogue(y + n, S::load_partial(y + n, cols), ep, n, cols);
  }
}

template <class S, int C, int L>
void xt_by_height(const SparseF32View& w, const float* xt, int mt, int rows, int64_t g0, int64_t g1, float* y,
                  int64_t ldy, const Epilogue& ep) {
  constexpr int kMax = xt_vectors<S, C>();
  const int nv = mt / S::W;
  if (nv >= 4 && kMax >= 4) return xt_kernel<S, C, L, (kMax >= 4 ? 4 : 1)>(w, xt, rows, g0, g1, y, ldy, ep);
  if (nv >= 2 && kMax >= 2) return xt_kernel<S, C, L, (kMax >= 2 ? 2 : 1)>(w, xt, rows, g0, g1, y, ldy, ep);
  xt_kernel<S, C, L, 1>(w, xt, rows, g0, g1, y, ldy, ep);
}

template <class S>
void xt_dispatch(const SparseF32View& w, const float* xt, int mt, int rows, int64_t g0, int64_t g1, float* y,
                 int64_t ldy, const Epilogue& ep) {
  if (w.L == 4) return xt_by_height<S, 1, 4>(w, xt, mt, rows, g0, g1, y, ldy, ep);
  switch (w.C) {
    case 4: return xt_by_height<S, 4, 1>(w, xt, mt, rows, g0, g1, y, ldy, ep);
    case 8: return xt_by_height<S, 8, 1>(w, xt, mt, rows, g0, g1, y, ldy, ep);
    case 16: return xt_by_height<S, 16, 1>(w, xt, mt, rows, g0, g1, y, ldy, ep);
    default: return xt_by_height<S, 1, 1>(w, xt, mt, rows, g0, g1, y, ldy, ep);
  }
}

template <class S>
void rows_dispatch(const SparseF32View& w, const float* x, int64_t g0, int64_t g1, float* y, const Epilogue& ep) {
  if (w.L == 4) return rows_kernel<S, 1, 4>(w, x, g0, g1, y, ep);
  switch (w.C) {
    case 4: return rows_kernel<S, 4, 1>(w, x, g0, g1, y, ep);
    case 8: return rows_kernel<S, 8, 1>(w, x, g0, g1, y, ep);
    case 16: return rows_kernel<S, 16, 1>(w, x, g0, g1, y, ep);
    default: return rows_kernel<S, 1, 1>(w, x, g0, g1, y, ep);
  }
}

// The tile height (in vectors, <= the register budget) that pads the fewest rows for M; ties go
// to the taller tile (fewer passes over the weights).
inline int best_vectors(int max_vectors, int lanes, int64_t M) {
  int best = 1;
  int64_t best_pad = INT64_MAX;
  for (int v = max_vectors; v >= 1; v /= 2) {
    const int64_t mt = static_cast<int64_t>(v) * lanes, pad = (M + mt - 1) / mt * mt;
    if (pad < best_pad) best_pad = pad, best = v;
  }
  return best;
}

template <class S>
int xt_rows(int C, int, int64_t M) {
  const int max_vectors = C == 4 ? xt_vectors<S, 4>() : C == 8 ? xt_vectors<S, 8>() : C == 16 ? xt_vectors<S, 16>() : xt_vectors<S, 1>();
  return S::W * best_vectors(max_vectors, S::W, M);
}

template <class S>
int batch_cols_of(int C) {
  return batch_cols<S>(C);
}

}  // namespace spmm_impl
}  // namespace sparq
