// Dense fp32 GEMM: the baseline every other kernel must beat and the runtime's fallback.
// W is packed into column panels of `nr` floats: panel p holds W[k][p*nr .. p*nr+nr) for every k,
// zero-padded past N, so any K block of a panel is contiguous (offset k0*nr).
#pragma once
#include <cstdint>

#include "sparq/cpu.h"
#include "sparq/epilogue.h"

namespace sparq {

struct GemmF32Kernels {
  const char* name;
  int mr;  // rows per register tile
  int nr;  // panel width (columns per register tile)
  // C[rows x cols] (+)= A[kc x rows] · B[kc x nr]. A is packed k-major, `mr` floats per k (rows used);
  // B is a panel slice (nr floats per k). cols <= nr are stored. With `accumulate`, C is added to;
  // with `ep` non-null the epilogue (bias from column n0) is applied before the store.
  void (*tile)(int rows, int cols, int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
               bool accumulate, const Epilogue* ep, int64_t n0);
  // y[0..cols) = act(x[0..K) · panel + bias[n0..]) for one panel: the M = 1 path, memory-bound.
  void (*gemv)(int64_t K, int cols, const float* x, const float* panel, float* y, const Epilogue& ep, int64_t n0);
  // Rows to k-major: dst[k * ld + i] = x[i * lda + k] for i < rows, k < kb (ld >= rows; lanes rows..ld
  // untouched), any 32-bit elements copied bit for bit. The GEMM tile's A layout with ld = rows; the
  // sparse kernels' x tiles with ld = their height (sparse-int8: u8 quads). The SIMD versions transpose
  // in registers: the scalar loop cost ~5% of a 256 x 784 x 300 product.
  void (*pack_a)(const float* x, int64_t lda, int rows, int64_t kb, float* dst, int64_t ld);
  // Optional (null where a level has none): tile with A read in place (row-major, lda floats a row)
  // rather than packed by pack_a, where its rows don't alias in L1 (dense_f32.cpp, a_in_place): packing
  // A was a fifth of a 256 x 300 x 100 product, and a narrow N amortises it over few columns.
  void (*tile_a)(int rows, int cols, int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc,
                 bool accumulate, const Epilogue* ep, int64_t n0);
};

// The portable pack_a (the scalar table's; the SIMD ones finish their tails with it).
void pack_a_f32_portable(const float* x, int64_t lda, int rows, int64_t kb, float* dst, int64_t ld);

// The table for one level (null when that level isn't compiled in, e.g. on ARM).
const GemmF32Kernels* gemm_f32_kernels(Isa isa);

// Per-ISA tables, defined in native/kernels/*.
extern const GemmF32Kernels kGemmF32Scalar;
extern const GemmF32Kernels kGemmF32Avx2;
extern const GemmF32Kernels kGemmF32Avx512;

// Plain reference GEMM on unpacked row-major W (double accumulation): the test oracle.
void gemm_f32_reference(const float* x, int64_t M, int64_t K, const float* W, int64_t N, float* y, const Epilogue& ep);

}  // namespace sparq
