// Weight-only quantized matrices for decode (M = 1 to 8: one token's activations times every weight, so
// the time is the bytes of weights read): "int4" (u4 codes, two per byte) and "int8-wo" (u8 codes), each
// with one bf16 scale per group of `group` consecutive k of an output column and a zero point that is
// fixed (symmetric: 8 / 128) or stored per group (asymmetric, one byte). The weight a code stands for is
//     w = (code − zp) · scale
// as in onnxruntime's MatMulNBits (com.microsoft), which the ONNX export writes.
//
// Quantization of one group (round half to even throughout; the scale is rounded to bf16 first and the
// codes computed with the rounded scale, so re-quantizing dequantized weights gives the same codes):
//   int4 symmetric:   v = the group's value of largest |w|; scale = bf16(v · f / −8); code = clamp(round(w/scale)
//                     + 8, 0, 15) — at f = 1 the extreme lands on −8 exactly and the other 15 levels cover the
//                     rest (llama.cpp's Q4_0 rule). f is the one of 1, 0.975, ..., 1 − 0.025·kWoClipSteps whose
//                     codes give the group the least squared error (the first on ties): clipping a group's
//                     outlier can narrow the steps of all the others. On dequantized weights f = 1 is exact
//                     and every narrower scale clips the extreme, so re-quantizing gives the same codes.
//                     A zero group gets scale 0 and codes 8.
//   int8 symmetric:   scale = bf16(max|w| / 127), code = clamp(round(w/scale), −127, 127) + 128.
//   asymmetric:       lo = min(0, min w), hi = max(0, max w), scale = bf16((hi − lo) / qmax), zp =
//                     clamp(round(−lo/scale), 0, qmax), code = clamp(round(w/scale) + zp, 0, qmax); the
//                     scale and zp are then re-derived from the dequantized range (codes always from w)
//                     until they repeat, so a model's dequantized weights re-pack to the same codes (the
//                     extremes may clamp by up to two steps where the fixed point is narrower).
//   A group holding NaN/Inf gets scale NaN and codes zp: its column's outputs are NaN.
//
// Layout (the same for every ISA, so packed bytes load anywhere): N in panels of 16 columns, K padded
// to a multiple of the group; per panel p, per group g, one block of codes, scales and zero points:
//   int4: group/8 chunks of 64 bytes; byte (n%16)·4 + j of chunk c = code(k0+j) | code(k0+4+j) << 4, k0 =
//         g·group + 8c: one load gives two ready k-quads for vpdpbusd (an and, a shift and an and).
//   int8: group/4 chunks of 64 bytes; byte (n%16)·4 + j of chunk c = code(g·group + 4c + j).
//   scales: bf16 [panel][group][16]; zeros (asymmetric only): u8 [panel][group][16]. Padding columns hold
//   scale 0, padding k codes zp.
//
// Multiplication, M <= 8 (kernels below): x quantized per row and per group to s8 (scale = max|x|/127,
// round half to even, Σ codes kept), then per group an exact s32 dot product of u8 weight codes with
// s8 activation codes (vpdpbusd), and one fp32 fused multiply-add per group:
//     y[m][n] += scale_w[g][n] · scale_x[m][g] · (Σ_k code_w · code_x − zp[g][n] · Σ_k code_x)
// The integer part is exact and converts to fp32 exactly (|·| < 2^24), so every kernel computes the same
// bits as the scalar reference (before the epilogue). The only error beyond the weights' own is the
// activations' rounding: |Δy[m][n]| <= Σ_g scale_x[m][g]/2 · Σ_{k in g} |w[k][n]|.
// M <= 64: the same, 8 rows at a time per panel. M > 64: panels dequantized to fp32 tiles, multiplied by
// sgemm with fp32 activations.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "sparq/aligned.h"
#include "sparq/cpu.h"
#include "sparq/epilogue.h"

namespace sparq {

constexpr int kWoPanel = 16;
// Symmetric int4 scale search (below): ranges narrowed by 2.5% steps, down to 70% of the extreme.
constexpr int kWoClipSteps = 12;
constexpr float kWoClipStep = 0.025f;
constexpr int kWoMaxRows = 8;  // rows one kernel call multiplies (decode)
// Up to this many rows (a prompt), the kernels run 8 rows at a time over each panel while it is in L1:
// the weights still stream once, and prefill computes as decode does. More rows take the tile path.
constexpr int64_t kWoStreamMaxRows = 64;

inline uint16_t bf16_from_float(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // NaN stays NaN
  const uint32_t rounded = x + 0x7fffu + ((x >> 16) & 1u);
  // A finite value that would round up to infinity keeps its truncation (the largest bf16 below it).
  if ((x & 0x7f800000u) != 0x7f800000u && (rounded & 0x7f800000u) == 0x7f800000u) return static_cast<uint16_t>(x >> 16);
  return static_cast<uint16_t>(rounded >> 16);
}

inline float bf16_to_float(uint16_t h) {
  const uint32_t x = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

// The kernels' loops over rows: unrolled, so each row's accumulators stay in registers (GCC otherwise
// keeps the arrays in memory and reloads them every k-quad).
#define SPARQ_WO_UNROLL _Pragma("GCC unroll 8")

// Four s8 activation codes (one k-quad) as the 32-bit lane value the kernels broadcast.
inline int32_t wo_quad(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

struct WoPackedB {
  int bits = 4;          // 4 or 8
  bool symmetric = true;
  int64_t K = 0, N = 0, group = 32;
  int64_t groups = 0;    // ceil(K / group)
  int64_t panels = 0;    // ceil(N / 16)
  AlignedBuffer<uint8_t> codes;    // panels · groups · group_code_bytes()
  AlignedBuffer<uint16_t> scales;  // panels · groups · 16 (bf16)
  AlignedBuffer<uint8_t> zeros;    // panels · groups · 16 (asymmetric only)
  int64_t non_finite_groups = 0;
  double max_abs_error = 0, rel_rms_error = 0;  // over the finite weights

  int qmax() const { return bits == 4 ? 15 : 255; }
  int fixed_zero() const { return bits == 4 ? 8 : 128; }
  int64_t group_code_bytes() const { return group * kWoPanel * bits / 8; }
  const uint8_t* block_codes(int64_t p, int64_t g) const { return codes.data() + (p * groups + g) * group_code_bytes(); }
  const uint16_t* block_scales(int64_t p, int64_t g) const { return scales.data() + (p * groups + g) * kWoPanel; }
  const uint8_t* block_zeros(int64_t p, int64_t g) const { return symmetric ? nullptr : zeros.data() + (p * groups + g) * kWoPanel; }
  size_t bytes() const { return codes.bytes() + scales.bytes() + zeros.bytes(); }

  int code(int64_t k, int64_t n) const;      // the stored code of w[k][n]
  int zero_point(int64_t k, int64_t n) const;
  float scale(int64_t k, int64_t n) const;
  float dequantized(int64_t k, int64_t n) const { return static_cast<float>(code(k, n) - zero_point(k, n)) * scale(k, n); }
  // Columns [n0, n0 + cols) of the dequantized weights as fp32 rows of `ld` floats (K rows).
  void dequantize(int64_t n0, int64_t cols, float* out, int64_t ld) const;
};

// Quantizes W[K, N] (row-major) with the rules above and packs it. group: a multiple of 8 in [8, 4096]
// (int8: of 4); bits 4 or 8. Throws invalid_argument otherwise.
void pack_wo_weights(const float* W, int64_t K, int64_t N, int bits, int64_t group, bool symmetric, WoPackedB& out);

// Activations of M rows quantized per group (see above): codes [M][groups·group] (zero past K),
// scale and Σ codes per (row, group).
struct WoActivations {
  const int8_t* q = nullptr;
  int64_t ldq = 0;
  const float* scale = nullptr;  // [m · groups + g]; NaN where the group holds NaN/Inf
  const float* sum = nullptr;    // [m · groups + g]: Σ codes, an integer held exactly (|·| < 2^24)
  int64_t groups = 0;
};

void quantize_wo_activations(const float* x, int64_t M, int64_t K, int64_t group, int64_t groups, int8_t* q,
                             float* scale, float* sum);

// y[m][n] for panels [p0, p1) and rows [0, M) (M <= 8): writes columns [16·p0, min(16·p1, N)), ldy apart,
// with the epilogue (bias indexed by the absolute column).
using WoGemvFn = void (*)(const WoPackedB& b, const WoActivations& a, int M, int64_t p0, int64_t p1, float* y,
                          int64_t ldy, const Epilogue& ep);

struct WoKernels {
  const char* name;
  WoGemvFn gemv;  // both widths (b.bits)
};

extern const WoKernels kWoScalar;
extern const WoKernels kWoAvx2;         // vpmaddubsw (exact: u4·s8 pairs fit s16; u8 split in nibbles)
extern const WoKernels kWoAvx512Vnni;   // vpdpbusd zmm

// The kernel for a level on this CPU (avx512 without VNNI takes the AVX2 one).
const WoKernels* wo_kernels(Isa isa);

}  // namespace sparq
