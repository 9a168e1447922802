// Internal to ops_gather.cpp and ops_scatter.cpp: reading int32/int64 indices with ONNX's negative
// wrap-around and the bounds check, and copying elements by size.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

#include "sparq/error.h"
#include "sparq/shape.h"

namespace sparq {
namespace detail {

inline int64_t index_at(DType t, const void* indices, int64_t i) {
  return t == DType::int64 ? static_cast<const int64_t*>(indices)[i] : static_cast<const int32_t*>(indices)[i];
}

inline void check_index_type(DType t, const char* op) {
  if (t != DType::int64 && t != DType::int32)
    throw Error("ERR_UNSUPPORTED_DTYPE", std::string(op) + ": indices must be int64 or int32, not " + dtype_name(t));
}

// idx normalised into [0, dim), or ERR_INDEX_OUT_OF_RANGE.
inline int64_t wrap_index(int64_t idx, int64_t dim, const char* op) {
  if (idx < -dim || idx >= dim)
    throw Error("ERR_INDEX_OUT_OF_RANGE", std::string(op) + ": index " + std::to_string(idx) + " is out of range for a dim of " +
                                              std::to_string(dim));
  return idx < 0 ? idx + dim : idx;
}

inline void copy_element(void* dst, const void* src, size_t esize) {
  switch (esize) {
    case 1: *static_cast<uint8_t*>(dst) = *static_cast<const uint8_t*>(src); return;
    case 2: std::memcpy(dst, src, 2); return;
    case 4: std::memcpy(dst, src, 4); return;
    case 8: std::memcpy(dst, src, 8); return;
    default: std::memcpy(dst, src, esize);
  }
}

// Advances a multi-index over `shape` (row-major); the caller tracks offsets itself.
inline void next_index(int64_t* coord, const Shape& shape) {
  for (int d = shape.rank - 1; d >= 0; --d) {
    if (++coord[d] < shape[d]) return;
    coord[d] = 0;
  }
}

}  // namespace detail
}  // namespace sparq
