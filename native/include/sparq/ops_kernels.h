// The per-ISA table behind the hot float ops of ops.h (init-once dispatch, as the GEMM tables): each
// entry works on contiguous memory; the drivers in native/runtime/ops_*.cpp handle shapes, broadcasting
// and threads. The scalar entries are the reference and the fallback for what a level doesn't vectorise.
#pragma once
#include <cstdint>

#include "sparq/cpu.h"
#include "sparq/ops.h"

namespace sparq {

struct OpsKernels {
  const char* name;
  // y[i] = op(x[i]) for i < n (y may equal x).
  void (*unary_f32)(UnaryOp op, const float* x, float* y, int64_t n);
  // y[i] = a[i*sa] op b[i*sb] for i < n, sa and sb each 0 or 1; arithmetic ops only (add..min).
  void (*binary_f32)(BinaryOp op, const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n);
  // Softmax (or LogSoftmax) of `rows` contiguous rows of `cols` floats.
  void (*softmax_rows)(const float* x, float* y, int64_t rows, int64_t cols, bool log);
  // LayerNorm of `rows` contiguous rows; beta, mean, inv_std may be null.
  void (*layer_norm_rows)(const float* x, float* y, int64_t rows, int64_t cols, const float* gamma, const float* beta,
                          float eps, float* mean, float* inv_std);
  // *lo = min(*lo, x[..]), *hi = max(*hi, x[..]) over n values, NaN skipped.
  void (*minmax_f32)(const float* x, int64_t n, float* lo, float* hi);
  // y[i] = saturate(round_half_even(x[i] / scale) + zp) to uint8 (or int8 when is_signed); NaN -> zp.
  void (*quantize_f32)(const float* x, int64_t n, float scale, float zp, bool is_signed, void* y);
};

const OpsKernels& ops_kernels(Isa isa);

// Scalar entries (native/kernels/ref), also called by ISA variants for the ops they don't vectorise.
void unary_f32_scalar(UnaryOp op, const float* x, float* y, int64_t n);
void binary_f32_scalar(BinaryOp op, const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n);
void softmax_rows_scalar(const float* x, float* y, int64_t rows, int64_t cols, bool log);
void layer_norm_rows_scalar(const float* x, float* y, int64_t rows, int64_t cols, const float* gamma, const float* beta,
                            float eps, float* mean, float* inv_std);
void minmax_f32_scalar(const float* x, int64_t n, float* lo, float* hi);
void quantize_f32_scalar(const float* x, int64_t n, float scale, float zp, bool is_signed, void* y);

// MatMulInteger's core: raw u8·s8 dot products on operands packed by ops_matmul_integer.cpp.
//   A: M rows of Kp bytes at row stride lda (Kp a multiple of 4; padding bytes zero).
//   Bp: ceil(N/16) panels, panel p at Bp + p*Kp*16; its group q (64 bytes) holds, for column
//       p*16 + j (j < 16), the four bytes B[4q..4q+3][p*16 + j] (zero past N and K).
//   C[m*ldc + n] = sum_k A[m][k]·B[k][n] (+ u[m]·v[n] + w[m]·x[n] with an epilogue) for m < M, n < N,
//   int32 arithmetic wrapping (as vpdpbusd / vpmulld). The epilogue carries the zero-point correction.
struct QgemmEpilogue {
  const int32_t* u;  // M values (per row)
  const int32_t* w;  // M values
  const int32_t* v;  // N values (per column)
  const int32_t* x;  // N values
};
using QgemmU8S8 = void (*)(int64_t M, int64_t N, int64_t Kp, const uint8_t* A, int64_t lda, const int8_t* Bp,
                           int32_t* C, int64_t ldc, const QgemmEpilogue* ep);
void qgemm_u8s8_scalar(int64_t M, int64_t N, int64_t Kp, const uint8_t* A, int64_t lda, const int8_t* Bp, int32_t* C,
                       int64_t ldc, const QgemmEpilogue* ep);
void qgemm_u8s8_avx512vnni(int64_t M, int64_t N, int64_t Kp, const uint8_t* A, int64_t lda, const int8_t* Bp,
                           int32_t* C, int64_t ldc, const QgemmEpilogue* ep);
// The VNNI kernel when `isa` is avx512 and the CPU has AVX512-VNNI, else the scalar one.
QgemmU8S8 qgemm_u8s8_for(Isa isa);

extern const OpsKernels kOpsScalar;
extern const OpsKernels kOpsAvx512;
extern const OpsKernels kOpsAvx2;

}  // namespace sparq
