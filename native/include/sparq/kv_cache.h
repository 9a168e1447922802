// A decoder's KV cache kept in place (the past-present share buffer): the session binds one buffer per
// cache tensor, [batch][heads][capacity][head_dim], for the whole generation, and the plan op kv_store
// writes each step's new keys or values into it at a given row instead of concatenating the whole past
// (src/generate rewrites a decoder's Concat(past, new) into it).
#pragma once
#include <cstdint>

#include "sparq/cpu.h"
#include "sparq/shape.h"

namespace sparq {

// Whether new rows [B, H, S, D] fit a cache [B, H, T, D] (S <= T, the other dims equal, rank 4).
bool kv_store_shapes_ok(const Shape& cache, const Shape& rows);

// cache[b][h][pos + s][:] = rows[b][h][s][:]. Throws ERR_INDEX_OUT_OF_RANGE unless 0 <= pos <= T − S.
void kv_store(float* cache, const Shape& cache_shape, const float* rows, const Shape& rows_shape, int64_t pos);

// Attention over a cache (plan op cache_attention, 261; src/generate/kv-rewrite.ts fuses a decoder's
// MatMul(Q, Kᵀ) → scale → Where(causal) → + mask → Softmax → MatMul(·, V) into it). For every batch b,
// head h and query row i, with j over the T cache rows:
//   s[j] = Q[b][h][i]·K[b][h][j]; s[j] = s[j]·scale, s[j]/scale or s[j] (scale_op 1, 2, 0);
//   s[j] = cond[b][h][i][j] ? s[j] : fill (with cond); s[j] += mask[b][h][i][j] (with mask);
//   out[b][h][i] = Σ_j softmax(s)[j] · V[b][h][j]
// in that order, as the unfused graph computes it. Q [B, H, S, D], K [B, H, T, D], V [B, H, T, Dv] and
// out [B, H, S, Dv] are contiguous; cond (bool) and mask (float32) have rank <= 4 and broadcast to
// [B, H, S, T] (right-aligned, each dim equal or 1). K is read row by row in place: no transpose.
struct CacheAttentionArgs {
  int64_t B = 0, H = 0, S = 0, T = 0, D = 0, Dv = 0;
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  const bool* cond = nullptr;
  Shape cond_shape;
  const float* mask = nullptr;
  Shape mask_shape;
  int scale_op = 0;  // 0 none, 1 multiply, 2 divide
  float scale = 1.0f;
  float fill = 0.0f;
  float* out = nullptr;
};

// Whether a tensor of shape `s` broadcasts to [B, H, S, T] as above.
bool cache_attention_broadcasts(const Shape& s, int64_t B, int64_t H, int64_t S, int64_t T);

void cache_attention(const CacheAttentionArgs& a, int threads, Isa isa);

}  // namespace sparq
