// DType helpers and Shape: the small shape algebra (broadcasting, strides) the op kernels share.
#include "sparq/shape.h"

#include <string>

#include "sparq/error.h"

namespace sparq {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::float32: return 4;
    case DType::uint8: return 1;
    case DType::int8: return 1;
    case DType::int32: return 4;
    case DType::int64: return 8;
    case DType::boolean: return 1;
    case DType::uint16: case DType::int16: case DType::float16: return 2;
    case DType::uint32: return 4;
    case DType::float64: case DType::uint64: return 8;
  }
  throw Error("ERR_UNSUPPORTED_DTYPE", "Unsupported tensor element type code " + std::to_string(static_cast<int>(t)));
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::float32: return "float32";
    case DType::uint8: return "uint8";
    case DType::int8: return "int8";
    case DType::int32: return "int32";
    case DType::int64: return "int64";
    case DType::boolean: return "bool";
    case DType::uint16: return "uint16";
    case DType::int16: return "int16";
    case DType::float16: return "float16";
    case DType::float64: return "float64";
    case DType::uint32: return "uint32";
    case DType::uint64: return "uint64";
  }
  return "unknown dtype";
}

bool dtype_valid(int32_t code) { return (code >= 1 && code <= 7) || (code >= 9 && code <= 13); }

Shape::Shape(std::initializer_list<int64_t> d) {
  if (d.size() > static_cast<size_t>(kMaxRank)) throw invalid_argument("Expected a rank of at most 8 for a shape");
  for (int64_t v : d) {
    if (v < 0) throw invalid_argument("Expected non-negative dims for a shape but received " + std::to_string(v));
    dims[rank++] = v;
  }
}

Shape Shape::of(const int64_t* d, int r) {
  if (r < 0 || r > kMaxRank)
    throw invalid_argument("Expected a rank in [0, 8] for a shape but received " + std::to_string(r));
  Shape s;
  for (int i = 0; i < r; ++i) {
    if (d[i] < 0) throw invalid_argument("Expected non-negative dims for a shape but received " + std::to_string(d[i]));
    s.dims[i] = d[i];
  }
  s.rank = r;
  return s;
}

int64_t Shape::numel() const { return prod(0, rank); }

int64_t Shape::prod(int from, int to) const {
  int64_t p = 1;
  for (int i = from; i < to; ++i) p *= dims[i];
  return p;
}

bool Shape::operator==(const Shape& o) const {
  if (rank != o.rank) return false;
  for (int i = 0; i < rank; ++i)
    if (dims[i] != o.dims[i]) return false;
  return true;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < rank; ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

void contiguous_strides(const Shape& s, int64_t* strides) {
  int64_t st = 1;
  for (int i = s.rank - 1; i >= 0; --i) {
    strides[i] = st;
    st *= s.dims[i];
  }
}

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  Shape out;
  out.rank = a.rank > b.rank ? a.rank : b.rank;
  for (int i = 0; i < out.rank; ++i) {
    const int ia = a.rank - out.rank + i, ib = b.rank - out.rank + i;
    const int64_t da = ia >= 0 ? a.dims[ia] : 1, db = ib >= 0 ? b.dims[ib] : 1;
    if (da != db && da != 1 && db != 1)
      throw Error("ERR_SHAPE_MISMATCH", "Shapes " + a.str() + " and " + b.str() + " do not broadcast");
    out.dims[i] = da == 1 ? db : da;
  }
  return out;
}

bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.rank > to.rank) return false;
  for (int i = 0; i < from.rank; ++i) {
    const int64_t d = from.dims[i], t = to.dims[to.rank - from.rank + i];
    if (d != t && d != 1) return false;
  }
  return true;
}

}  // namespace sparq
