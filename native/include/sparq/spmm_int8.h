// Sparse int8 matmul ('sparse-int8'): s8 weights (symmetric, one scale per output, quantized as the
// 'int8' format does) with u8 activations quantized per row at call time (sparq/quantize.h):
//     y[m][n] = act(scale_a[m] · scale_b[n] · (acc[m][n] − za[m] · colsum[n]) + bias[n]),
//     acc[m][n] = Σ over stored elements of output n of their codes times the matching a[m][k]   (exact s32)
// Elements are listed per output and per chunk of 256 k (64 quads), in one of two layouts, whichever
// fits the weights (SparseInt8 chooses; info.layout says):
//   "words"    1x4 blocks along K — 4 consecutive k of one output, the operand of one vpdpbusd lane —
//              stored when any of their codes is nonzero: a one-byte quad offset inside the chunk and the
//              4 codes as one 32-bit word (5 bytes per block). Block-pruned weights, whose blocks are full.
//   "nonzeros" each nonzero code alone: a one-byte k offset inside the chunk and the code (2 bytes per
//              nonzero). Random unstructured sparsity, where ~1.2 codes share a surviving block: at 90%
//              it is 0.22x of the dense s8 bytes where words would take 0.43x.
// The AVX-512 row kernel (M = 1) holds a chunk of the quantized row in four zmm: in "nonzeros" two
// vpermi2b pick the activations of 64 stored codes at once for one vpdpbusd (4 codes per lane); in
// "words" two vpermt2d pick the quads of 16 blocks.
// Kernel shapes as for fp32 (sparq/spmm_f32.h): `xt` for M >= kXtMinRows (quads of MT rows transposed,
// one vpdpbusd per element per 16 rows: a nonzero is a block with one code), `rows` for small M.
#pragma once
#include <cstdint>

#include "sparq/cpu.h"
#include "sparq/epilogue.h"

namespace sparq {

constexpr int kSpI8ChunkQuads = 64;
constexpr int kSpI8ChunkBytes = 4 * kSpI8ChunkQuads;

struct SparseInt8View {
  int64_t K = 0, N = 0;
  int64_t kq = 0;      // ceil(K / 4)
  int64_t chunks = 0;  // ceil(kq / 64)
  const uint32_t* ptr = nullptr;  // N·chunks + 1: elements of output n in chunk c are [ptr[n·chunks + c], ptr[.. + 1])
  const uint8_t* idx = nullptr;   // per element: its quad offset inside the chunk (words) or its k offset (nonzeros)
  const int32_t* val = nullptr;   // words layout: per block its 4 codes (k = 4q .. 4q+3), little-endian
  const int8_t* codes = nullptr;  // nonzeros layout (val null): per element its code
  const float* scale = nullptr;     // per output (NaN for a column holding NaN/Inf)
  const int32_t* colsum = nullptr;  // per output: Σ_k code
};

// Element e's quad inside its chunk, and its codes as one little-endian word of that quad (a nonzero:
// its code in byte k % 4, zeros elsewhere).
inline int64_t element_quad(const SparseInt8View& w, uint32_t e) { return w.codes ? w.idx[e] >> 2 : w.idx[e]; }
inline int32_t element_word(const SparseInt8View& w, uint32_t e) {
  if (!w.codes) return w.val[e];
  return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint8_t>(w.codes[e])) << (8 * (w.idx[e] & 3)));
}

// The unpacker's fast path (x86 with BMI2 + AVX512-VBMI2; native/kernels/x86/sparse_int8_unpack_avx512.cpp):
// the k offsets (inside the chunk) of one range's nonzeros, from its 64-bit block map and the blocks'
// 4-bit masks, which start at nibble `first` of `masks` (readable 16 bytes past the range's masks).
// Writes them to out (readable and writable 64 bytes past the last one) and returns their count, or -1
// when a stored block's mask is empty or names a k >= kmax.
int64_t nonzero_offsets_avx512(uint64_t bitmap, const uint8_t* masks, uint64_t first, int kmax, uint8_t* out);
// The same unpacker's check of one output's codes [codes, codes + n): their sum, and `bad` set where a
// code is 0 or outside [-weight_max, weight_max]. AVX-512BW, 64 codes per step (masked tail).
int32_t sum_checked_codes_avx512(const int8_t* codes, int64_t n, int weight_max, bool& bad);
// The words layout's check of one output's blocks [words, words + n) (4 codes a word): their codes' sum,
// `bad` set where a word is 0 (a stored block with no code) or a code lies outside [-weight_max,
// weight_max]; `nonzero` grows by the nonzero codes. AVX-512BW, 16 words per step (masked tail).
int32_t sum_checked_words_avx512(const int32_t* words, int64_t n, int weight_max, bool& bad, int64_t& nonzero);

// Per-row activation parameters of the quantized A.
struct RowQuant {
  const float* scale;
  const int32_t* zero;
};

struct SpmmInt8Kernels {
  const char* name;
  int weight_max;  // codes in [-weight_max, weight_max]: 127, or 63 where vpmaddubsw must not saturate
  int (*xt_rows)(int64_t M);  // MT: rows per xt tile for M rows (the height that pads least)
  int batch_cols;             // xt column ranges start at multiples of this
  // Outputs [n0, n1) of one M tile: xt holds, for every quad q, mt rows' 4 codes (xt + (q·mt + m)·4);
  // rows <= mt valid rows; y (row stride ldy) and rq start at the tile's first row. With acc non-null
  // the raw accumulators go there (row stride ldacc) instead of y (tests).
  void (*xt)(const SparseInt8View& w, const uint8_t* xt, int mt, int rows, int64_t n0, int64_t n1, RowQuant rq,
             float* y, int64_t ldy, const Epilogue& ep, int32_t* acc, int64_t ldacc);
  // Outputs [n0, n1) for one quantized row (chunks·kSpI8ChunkBytes readable bytes) with its scale and zero point.
  void (*rows)(const SparseInt8View& w, const uint8_t* xq, int64_t n0, int64_t n1, float sa, int32_t za, float* y,
               const Epilogue& ep, int32_t* acc);
};

const SpmmInt8Kernels* spmm_int8_kernels(Isa isa);
extern const SpmmInt8Kernels kSpmmInt8Scalar;
extern const SpmmInt8Kernels kSpmmInt8Avx2;
extern const SpmmInt8Kernels kSpmmInt8Avx512Vnni;  // needs AVX512-VNNI and AVX512-VBMI

// The dequantizing epilogue of one output, as every kernel computes it.
inline float dequant_ref(int32_t acc, int32_t za, int32_t colsum, float sa, float sb) {
  return static_cast<float>(acc - za * colsum) * (sa * sb);
}

}  // namespace sparq

#include "sparq/packed.h"

namespace sparq {

// The 'sparse-int8' handle, declared so tests can reach its exact integer accumulators.
class SparseInt8Weights : public PackedWeights {
 public:
  using PackedWeights::PackedWeights;
  // Raw s32 accumulators acc[M, N] through the xt kernel (rows_kernel false) or the row kernel, and
  // the u8 codes of x it used (xq[M, 4·kq]) with their zero points.
  virtual void accumulators(const float* x, int64_t M, bool rows_kernel, int32_t* acc, uint8_t* xq,
                            int32_t* zero_points) const = 0;
  virtual int8_t code(int64_t k, int64_t n) const = 0;  // the stored weight code (0 where no block)
  virtual int64_t padded_k() const = 0;                 // 4·kq
};

}  // namespace sparq
