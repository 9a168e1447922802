// Element types and shapes shared by the op kernels (ops.h), the strided GEMM (sgemm.h) and the
// executor. DType values are ONNX TensorProto.DataType codes, so the runtime passes them through.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace sparq {

enum class DType : int32_t {
  float32 = 1, uint8 = 2, int8 = 3, uint16 = 4, int16 = 5, int32 = 6, int64 = 7, boolean = 9,
  float16 = 10,  // storage only: IEEE half bits; ops convert to float32 to compute
  float64 = 11, uint32 = 12, uint64 = 13
};

// Bytes per element (bool is one byte holding 0 or 1); throws ERR_UNSUPPORTED_DTYPE for other codes.
size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "float32", "uint8", ... or "dtype(<code>)"
bool dtype_valid(int32_t code);   // one of the codes above

constexpr int kMaxRank = 8;

// A tensor shape of rank 0..8 (rank 0 = scalar, one element). Dims are >= 0.
struct Shape {
  int rank = 0;
  int64_t dims[kMaxRank] = {};

  Shape() = default;
  Shape(std::initializer_list<int64_t> d);
  // Throws ERR_INVALID_ARGUMENT when rank > 8 or a dim is negative.
  static Shape of(const int64_t* d, int rank);

  int64_t operator[](int i) const { return dims[i]; }
  int64_t& operator[](int i) { return dims[i]; }
  int64_t numel() const;                        // product of dims (1 for a scalar)
  int64_t prod(int from, int to) const;         // product of dims[from..to)
  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const;                      // "[2, 3, 4]"
};

// Row-major element strides of `s` (stride of the last dim is 1).
void contiguous_strides(const Shape& s, int64_t* strides);

// numpy/ONNX multidirectional broadcasting: dims aligned from the right, each pair equal or one of them 1.
// Throws sparq::Error ERR_SHAPE_MISMATCH naming both shapes when they are incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b);
// Whether `from` broadcasts to exactly `to` (unidirectional, as Expand's input and Where's operands need).
bool broadcasts_to(const Shape& from, const Shape& to);

}  // namespace sparq
