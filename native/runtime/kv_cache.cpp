// The kv_store plan op (sparq/kv_cache.h): a strided copy of one step's rows into the cache.
#include "sparq/kv_cache.h"

#include <cstring>
#include <string>

#include "sparq/error.h"

namespace sparq {

bool kv_store_shapes_ok(const Shape& cache, const Shape& rows) {
  return cache.rank == 4 && rows.rank == 4 && cache[0] == rows[0] && cache[1] == rows[1] && cache[3] == rows[3] &&
         rows[2] <= cache[2];
}

void kv_store(float* cache, const Shape& cache_shape, const float* rows, const Shape& rows_shape, int64_t pos) {
  const int64_t T = cache_shape[2], S = rows_shape[2], D = cache_shape[3];
  if (pos < 0 || pos > T - S)
    throw Error("ERR_INDEX_OUT_OF_RANGE", "Expected a cache position in [0, " + std::to_string(T - S) + "] for " +
                                              std::to_string(S) + " new rows but received " + std::to_string(pos));
  const int64_t planes = cache_shape[0] * cache_shape[1];
  for (int64_t p = 0; p < planes; ++p)
    std::memcpy(cache + (p * T + pos) * D, rows + p * S * D, static_cast<size_t>(S * D) * sizeof(float));
}

}  // namespace sparq
