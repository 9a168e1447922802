// Sparse int8 matmul ('sparse-int8'): s8 weights (symmetric, one scale per output, quantized as the
// 'int8' format does) kept in 1x4 blocks along K — 4 consecutive k of one output, exactly the operand
// of one vpdpbusd lane — with u8 activations quantized per row at call time (sparq/quantize.h):
//     y[m][n] = act(scale_a[m] · scale_b[n] · (acc[m][n] − za[m] · colsum[n]) + bias[n]),
//     acc[m][n] = Σ over stored blocks (n, q) of Σ_l a[m][4q + l] · w[4q + l][n]   (exact s32)
// A block is stored when any of its 4 codes is nonzero, in one of two layouts, whichever is smaller:
// "words" (its 4 codes as one 32-bit word: block-pruned weights, whose blocks are full) or
// "compressed" (a 4-bit mask of its nonzero codes, two blocks per byte, plus only those codes in one
// byte stream: ~2.3 bytes per block instead of 5 at 90% random sparsity, ~1.2 codes per block). Blocks are listed per output and per chunk of
// 64 quads (256 k), with a one-byte quad offset inside the chunk. The AVX-512 row kernel holds a chunk
// of the quantized row in four zmm, picks 16 blocks' quads at once with two vpermt2d and a blend, and
// rebuilds their 16 weight words with one vpexpandb (the 16 nibbles are its 64-bit mask).
// Kernel shapes as for fp32 (sparq/spmm_f32.h): `xt` for M >= kXtMinRows (quads of MT rows transposed,
// one vpdpbusd per block per 16 rows; blocks expanded per chunk into a small buffer), `rows` for small M.
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
  const uint32_t* ptr = nullptr;    // N·chunks + 1: blocks of output n in chunk c are [ptr[n·chunks + c], ptr[.. + 1])
  const uint8_t* idx = nullptr;     // per block: quad offset inside the chunk
  const int32_t* val = nullptr;     // words layout: per block its 4 codes (k = 4q .. 4q+3), little-endian
  // compressed layout (codes non-null; val null); every range holds an even number of blocks (padded
  // with an empty one: mask 0, index 0) so its masks start on a byte:
  const uint32_t* cptr = nullptr;   // N·chunks + 1: offset in `codes` of the first code of each range
  const uint8_t* nib = nullptr;     // per block: 4-bit mask of nonzero codes (block e in byte e/2, high nibble if odd)
  const int8_t* codes = nullptr;    // the nonzero codes, block after block, k increasing
  const float* scale = nullptr;     // per output (NaN for a column holding NaN/Inf)
  const int32_t* colsum = nullptr;  // per output: Σ_k code
};

inline unsigned block_mask(const SparseInt8View& w, uint32_t e) { return (w.nib[e >> 1] >> (4 * (e & 1))) & 15u; }

// Where the codes of output n's chunk c start (compressed layout; 0 otherwise).
inline uint32_t code_offset(const SparseInt8View& w, int64_t n, int64_t c) { return w.codes ? w.cptr[n * w.chunks + c] : 0; }

// Block e's 4 codes as one little-endian word; `off` walks the code stream (compressed layout).
inline int32_t block_word(const SparseInt8View& w, uint32_t e, uint32_t& off) {
  if (!w.codes) return w.val[e];
  const unsigned mask = block_mask(w, e);
  uint32_t word = 0;
  for (int l = 0; l < 4; ++l)
    if ((mask >> l) & 1u) word |= static_cast<uint32_t>(static_cast<uint8_t>(w.codes[off++])) << (8 * l);
  return static_cast<int32_t>(word);
}

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
extern const SpmmInt8Kernels kSpmmInt8Avx512Vnni;  // needs AVX512-VNNI and AVX512-VBMI2

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
