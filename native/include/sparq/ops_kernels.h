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
};

const OpsKernels& ops_kernels(Isa isa);

// Scalar entries (native/kernels/ref), also called by ISA variants for the ops they don't vectorise.
void unary_f32_scalar(UnaryOp op, const float* x, float* y, int64_t n);
void binary_f32_scalar(BinaryOp op, const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n);
void softmax_rows_scalar(const float* x, float* y, int64_t rows, int64_t cols, bool log);
void layer_norm_rows_scalar(const float* x, float* y, int64_t rows, int64_t cols, const float* gamma, const float* beta,
                            float eps, float* mean, float* inv_std);

extern const OpsKernels kOpsScalar;
extern const OpsKernels kOpsAvx512;

}  // namespace sparq
