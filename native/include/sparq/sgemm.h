// General fp32 GEMM on unpacked operands (BLAS sgemm semantics, row-major), for MatMul / Gemm nodes
// whose B is not a constant weight (attention's Q·Kᵀ and P·V), for training, and as the batched
// numpy-style matmul. Built on the dense format's register tiles (gemm_f32.h): op(B) is packed into
// nr-column panels and op(A) into mr-row tiles on the fly, in thread-local scratch.
#pragma once
#include <cstdint>

#include "sparq/cpu.h"
#include "sparq/epilogue.h"
#include "sparq/shape.h"

namespace sparq {

// C[M x N] = alpha · op(A) · op(B) + beta · C, all row-major.
//   op(A) is M x K: A[m*lda + k], or with transA A is stored K x M and op(A)[m][k] = A[k*lda + m].
//   op(B) is K x N: B[k*ldb + n], or with transB B is stored N x K and op(B)[k][n] = B[n*ldb + k].
//   beta == 0: C is written without being read (NaN in C is ignored, as in BLAS).
//   ep (optional) is applied last, after alpha/beta: C = act(alpha·op(A)·op(B) + beta·C + bias[n]).
// M, N, K >= 0 (K == 0 gives beta·C, then the epilogue); leading dims >= the row length they hold.
// threads: 0 = the pool's size; small problems run on one thread regardless.
// Throws ERR_INVALID_ARGUMENT for negative sizes or short leading dimensions.
void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc, int threads, const Epilogue* ep = nullptr,
           Isa isa = active_isa());

// `batch` independent GEMMs of the same sizes; operand i is at A + i*strideA etc. A stride of 0
// broadcasts that operand over the batch (strideC must not be 0 when batch > 1). Threads go to the
// batch when it is at least the thread count, otherwise to each GEMM in turn.
void sgemm_strided_batched(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                           int64_t lda, int64_t strideA, const float* B, int64_t ldb, int64_t strideB, float beta,
                           float* C, int64_t ldc, int64_t strideC, int64_t batch, int threads,
                           const Epilogue* ep = nullptr, Isa isa = active_isa());

// numpy.matmul / ONNX MatMul semantics on contiguous row-major tensors:
//   rank-1 A [K] is treated as [1, K] and rank-1 B [K] as [K, 1], the added dim dropped from the result;
//   leading (batch) dims broadcast against each other. Throws ERR_SHAPE_MISMATCH when K differs or the
//   batch dims don't broadcast, ERR_INVALID_ARGUMENT for a rank-0 operand.
Shape matmul_output_shape(const Shape& a, const Shape& b);
// C must hold matmul_output_shape(a, b).numel() floats; it is overwritten.
void matmul_f32(const float* A, const Shape& a, const float* B, const Shape& b, float* C, int threads,
                const Epilogue* ep = nullptr, Isa isa = active_isa());

// Plain triple loop with double accumulation: the test oracle for all of the above.
void sgemm_reference(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                     int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                     const Epilogue* ep = nullptr);

}  // namespace sparq
