// Sparse fp32 matmul (SpMM) for pruned weights: y[M, N] = act(x[M, K] · W + bias) where W is stored
// as "grouped CSC": the N outputs are cut into groups of C consecutive columns that share one list of
// entries; each entry is a k index (u16) and C·L values covering k .. k+L-1 of the C columns.
//   C = 1, L = 1   'sparse'      unstructured, one index per nonzero
//   C = R, L = 1   'block' Rx1   R outputs (along N) that share a k: one x value feeds R weights
//   C = 1, L = 4   'block' 1x4   4 consecutive k (k % 4 == 0) of one output
// Two kernel shapes read the same storage:
//   xt    M >= kXtMinRows: x transposed per M tile (xt[k][m], MT rows contiguous, zero padded), so
//         each entry is `acc[c][m..] += w · xt[k][m..]` over whole vectors of rows (XNNPACK's SpMM);
//         results are transposed in registers on the way out and go through the fused epilogue.
//   rows  small M: one row of x at a time, entries in order (memory-bound; ~1 entry per cycle).
// And the '2:4' format (2 kept in every 4 consecutive k of each output) in panels of 16 outputs.
#pragma once
#include <cstdint>

#include "sparq/cpu.h"
#include "sparq/epilogue.h"

namespace sparq {

constexpr int64_t kSpmmWindow = 64;
constexpr int64_t kSpmmReadAhead = 16;  // entries readable (zeros) past the last one

// Read-only view of grouped-CSC storage (owned by the format object).
struct SparseF32View {
  int C = 1, L = 1;
  int64_t K = 0, N = 0;
  int64_t groups = 0;          // ceil(N / C)
  const uint32_t* ptr = nullptr;  // groups + 1 entry offsets
  const uint16_t* idx = nullptr;  // entry -> first k
  const float* val = nullptr;     // entry e: val[(e·L + l)·C + c]
  // Unstructured (C = L = 1) only: entries of output g with k in [64c, 64c + 64) are
  // [window_ptr[g·windows + c], window_ptr[g·windows + c + 1]) (the AVX-512 row kernel's ranges).
  int64_t windows = 0;  // ceil(K / kSpmmWindow)
  const uint32_t* window_ptr = nullptr;
};

struct SpmmF32Kernels {
  const char* name;
  int lanes;  // floats per vector: the xt tile height is lanes·V, the output batch is `batch(C)` columns
  // Rows per M tile (MT) for a C x L layout and M rows: the register budget's tile height, lowered
  // when that pads fewer rows (M = 32 runs 32-row tiles, not half-empty 64-row ones). And the columns
  // the kernel finishes per unit (group ranges passed to xt must start at a multiple of batch_cols / C).
  int (*xt_rows)(int C, int L, int64_t M);
  int (*batch_cols)(int C);
  // Groups [g0, g1) for one M tile: xt is Kp x mt (Kp = K rounded up to L, mt from xt_rows), `rows` <= mt
  // valid rows; y points at the tile's first row (row stride ldy), columns are absolute.
  void (*xt)(const SparseF32View& w, const float* xt, int mt, int rows, int64_t g0, int64_t g1, float* y, int64_t ldy,
             const Epilogue& ep);
  // Groups [g0, g1) for one row x (Kp floats, zero padded past K); y is that row of the output.
  void (*rows)(const SparseF32View& w, const float* x, int64_t g0, int64_t g1, float* y, const Epilogue& ep);
};

// Rows from which the xt kernel beats the row kernel (the row kernel reads the weights per row).
constexpr int64_t kXtMinRows = 3;

const SpmmF32Kernels* spmm_f32_kernels(Isa isa);
extern const SpmmF32Kernels kSpmmF32Scalar;
extern const SpmmF32Kernels kSpmmF32Avx2;
extern const SpmmF32Kernels kSpmmF32Avx512;

// ---- 2:4 ----
// Panels of 16 outputs. For panel p, k-group g (k = 4g .. 4g+3) and slot s (0, 1): 16 values at
// val[((p·G + g)·2 + s)·16 + lane] and a u32 of 2-bit offsets at sel[(p·G + g)·2 + s] (lane j in bits
// 2j, 2j+1), so output n = 16p + j gets val · x[4g + offset]. Unused slots hold 0 with offset 0.
constexpr int k24Panel = 16;
struct Sparse24View {
  int64_t K = 0, N = 0;
  int64_t G = 0;       // ceil(K / 4)
  int64_t panels = 0;  // ceil(N / 16)
  const float* val = nullptr;
  const uint32_t* sel = nullptr;
};

struct Spmm24Kernels {
  const char* name;
  int mr;  // rows per tile
  // Rows [0, rows) (rows <= mr) of x (row stride ldx >= 4G, zero padded past K) times panels
  // [p0, p1); y row stride ldy; columns absolute.
  void (*tile)(const Sparse24View& w, int rows, const float* x, int64_t ldx, int64_t p0, int64_t p1, float* y,
               int64_t ldy, const Epilogue& ep);
};

const Spmm24Kernels* spmm_24_kernels(Isa isa);
extern const Spmm24Kernels kSpmm24Scalar;
extern const Spmm24Kernels kSpmm24Avx2;
extern const Spmm24Kernels kSpmm24Avx512;

}  // namespace sparq
