// int8 GEMM: u8 activations (sparq/quantize.h, asymmetric per row) x s8 weights (symmetric, per output
// column or per tensor) into s32 accumulators, dequantized in a fused epilogue:
//     y[m][n] = act(scale_a[m] · scale_b[n] · (acc[m][n] − za[m] · colsum[n]) + bias[n])
// where acc = Σ_k a[m][k] · w[k][n] (exact integer arithmetic) and colsum[n] = Σ_k w[k][n].
//
// Weight layout (packed once, "VNNI" layout): K padded to a multiple of 4 (kq = K/4 quads), N padded
// to 16-column panels; panels are interleaved in groups of G (the kernel's tile width nr = 16·G):
//     byte (k, n) of panel p = n/16 lives at  group(p/G) · kq·G·64 + (k/4)·G·64 + (p%G)·64 + (n%16)·4 + k%4
// so one 64-byte load gives 4 consecutive k of 16 columns: one vpdpbusd feeds 16 s32 lanes. Padding
// (k >= K or n >= N) holds zero weights, so padded activations never matter.
//
// Accumulators stay exact while 255 · 127 · K < 2^31: the format accepts K <= kInt8MaxK.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "sparq/aligned.h"
#include "sparq/cpu.h"
#include "sparq/epilogue.h"

namespace sparq {

constexpr int64_t kInt8MaxK = 65536;
constexpr int kInt8PanelCols = 16;

// One register tile's work: rows x cols outputs from `kq` quads of A rows and one group of B.
struct Int8TileArgs {
  // A codes (u8) of the tile: row i, quad q (4 consecutive k) at a + i·a_row + q·a_quad. Row-major A
  // has a_row = lda, a_quad = 4; A packed for a `packed_a` kernel has a_row = 4, a_quad = 4·rows (the
  // tile's rows interleaved per quad: one sequential stream).
  const uint8_t* a;
  int64_t a_row, a_quad;
  const int8_t* b;    // the group's packed weights (kq · group · 64 bytes)
  int64_t kq;
  int group;          // panels per group in b's layout (must equal the kernel's nr/16, except for the scalar kernel)
  int rows, cols;     // valid rows (<= mr) and columns (<= 16·group)
  // epilogue inputs, already offset to the tile's first row / column
  const float* scale_a;
  const int32_t* zero_a;
  const float* scale_b;
  const int32_t* colsum;
  const Epilogue* ep;  // bias is indexed from n0
  int64_t n0;
  // Output. With y non-null: the epilogue's fp32 values go to y (rows `ldy` floats apart). With y null:
  // the raw s32 accumulators (no zero-point correction, no epilogue) go to `part` (rows `ldpart`
  // apart): a partial sum of a K block, or the tests' accumulator-level output.
  float* y;
  int64_t ldy;
  int32_t* part;
  int64_t ldpart;
  // Start from the s32 partial sums in `part` (earlier K blocks) instead of zero.
  bool accumulate;
  // Optional: the next group's weights (same K range, same layout) to prefetch into L2 while this tile
  // computes, so the first tile of the next group doesn't wait on DRAM. Kernels may ignore it.
  const int8_t* prefetch;
};

struct Int8GemmKernels {
  const char* name;
  int mr;          // rows per register tile
  int nr;          // columns per tile = 16 · group
  int weight_max;  // weights are quantized to [-weight_max, weight_max] (127, or 63 for the AVX2 path)
  // The driver packs A per tile (a_row = 4, a_quad = 4·rows) when K >= pack_a_from (0: never); the tile
  // reads any strides either way. Measured on Zen 5: packing pays from K = 4096 (one stream instead of
  // 12 rows 4 KiB apart), costs ~3% below (the extra pass over A).
  int64_t pack_a_from;
  void (*tile)(const Int8TileArgs& t);
};

// Per-ISA tables (native/kernels/*).
extern const Int8GemmKernels kInt8GemmScalar;         // exact reference, any group
extern const Int8GemmKernels kInt8GemmAvx2;           // vpmaddubsw on 7-bit weights (never saturates)
extern const Int8GemmKernels kInt8GemmAvxVnni;        // vpdpbusd ymm (AVX-VNNI)
extern const Int8GemmKernels kInt8GemmAvx512Vnni;     // vpdpbusd zmm, 12x32

// The kernel for a level on this CPU: avx512 -> AVX512-VNNI when the CPU has it; avx2 (or avx512
// without VNNI) -> AVX-VNNI when reported, else the 7-bit AVX2 kernel; scalar otherwise.
const Int8GemmKernels* int8_gemm_kernels(Isa isa);
// Every kernel this CPU can run (tests).
std::vector<const Int8GemmKernels*> int8_gemm_runnable_kernels();

// Quantized, packed weights for one kernel.
struct Int8PackedB {
  int64_t K = 0, N = 0, kq = 0, groups = 0;
  int group = 1, weight_max = 127;
  bool per_channel = true;
  AlignedBuffer<int8_t> data;     // groups · kq · group · 64 bytes
  AlignedBuffer<int32_t> colsum;  // groups · group · 16 (zero past N)
  AlignedBuffer<float> scale;     // same length; NaN for a column holding a non-finite weight
  // Weight quantization error over the finite weights: max |w − scale·q| and sqrt(Σ err² / Σ w²).
  double max_abs_error = 0, rel_rms_error = 0;
  int64_t non_finite_columns = 0;

  const int8_t* group_data(int64_t g) const { return data.data() + g * kq * group * 64; }
  int8_t at(int64_t k, int64_t n) const;  // the quantized weight (tests)
  size_t bytes() const { return data.bytes() + colsum.bytes() + scale.bytes(); }
};

// The format's scale rule, from each column's max |w| and whether it is all finite: max|w| /
// weight_max per column, or the whole matrix's when !per_channel (maxabs and finite are folded in
// place then); NaN for a non-finite column (per tensor: all of them); 1 where that is 0 or underflows
// (codes 0). Writes N scales and returns how many are NaN.
int64_t int8_column_scales(std::vector<float>& maxabs, std::vector<char>& finite, bool per_channel, int weight_max,
                           float* scale);

// w's code at scale s (finite, > 0): w / s clamped to [-weight_max, weight_max], rounded half to even
// (the FPU's default rounding, by adding and subtracting 1.5·2^23: exact for |x| <= 127).
inline int8_t int8_code(float w, float s, int weight_max) {
  const float lim = static_cast<float>(weight_max);
  const float x = std::max(-lim, std::min(lim, w / s));
  return static_cast<int8_t>((x + 12582912.0f) - 12582912.0f);
}

// Quantizes W[K, N] (row-major) symmetric to [-weight_max, weight_max] with one scale per column
// (per_channel) or one for the whole matrix: scale = max|w| / weight_max (1 when max|w| is 0 or the
// division underflows: codes 0), q = clamp(round_half_even(w / scale)). A column with any NaN/Inf
// gets scale NaN and codes 0 (its outputs are NaN); per tensor, one non-finite weight makes every
// output NaN. Then packs for a kernel with nr = 16·group.
void pack_int8_weights(const float* W, int64_t K, int64_t N, bool per_channel, int group, int weight_max,
                       Int8PackedB& out);

// Quantized A: codes (rows lda bytes apart, lda a multiple of 4 >= 4·kq) and per-row parameters.
struct Int8QuantizedA {
  const uint8_t* data;
  int64_t lda;
  const float* scale;
  const int32_t* zero_point;
};

// The blocked, multithreaded driver: y[M, N] (or raw accumulators into acc[M, N] when acc is non-null).
// Long K is split into blocks whose s32 partial sums are kept in y's own memory between blocks.
// kc_override > 0 forces K blocks of that many k (rounded to quads; tests of the blocked path).
void int8_gemm(const Int8GemmKernels& kernels, const Int8PackedB& b, const Int8QuantizedA& a, int64_t M, float* y,
               const Epilogue& ep, int threads, int32_t* acc = nullptr, int64_t kc_override = 0);

// The row stride the driver quantizes A with: K padded to 4, nudged off multiples of 512 so the rows
// of a tile don't alias in L1.
int64_t int8_a_stride(int64_t K);

}  // namespace sparq
