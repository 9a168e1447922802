// Internal to sgemm.cpp: register tiles that read op(B) in place (row-major, leading dimension ldb)
// instead of from packed panels, so a GEMM with a small M doesn't pay for packing all of B.
#pragma once
#include <cstdint>

#include "sparq/epilogue.h"

namespace sparq {

struct SgemmDirectKernels {
  int mr, nr;
  // C[rows x cols] (+)= A[kc x rows] (packed k-major, `rows` floats per k) · B[k*ldb + j] for j < cols
  // (columns past `cols` are not read); epilogue as GemmF32Kernels::tile.
  void (*tile)(int rows, int cols, int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
               bool accumulate, const Epilogue* ep, int64_t n0);
};

extern const SgemmDirectKernels kSgemmDirectAvx512;

}  // namespace sparq
