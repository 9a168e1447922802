// A decoder's KV cache kept in place (the past-present share buffer): the session binds one buffer per
// cache tensor, [batch][heads][capacity][head_dim], for the whole generation, and the plan op kv_store
// writes each step's new keys or values into it at a given row instead of concatenating the whole past
// (src/generate rewrites a decoder's Concat(past, new) into it).
#pragma once
#include <cstdint>

#include "sparq/shape.h"

namespace sparq {

// Whether new rows [B, H, S, D] fit a cache [B, H, T, D] (S <= T, the other dims equal, rank 4).
bool kv_store_shapes_ok(const Shape& cache, const Shape& rows);

// cache[b][h][pos + s][:] = rows[b][h][s][:]. Throws ERR_INDEX_OUT_OF_RANGE unless 0 <= pos <= T − S.
void kv_store(float* cache, const Shape& cache_shape, const float* rows, const Shape& rows_shape, int64_t pos);

}  // namespace sparq
