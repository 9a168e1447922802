// Scalar sparse int8 kernels: exact s32 accumulation over the stored elements (1x4 blocks or single
// nonzeros, each as a word of its quad), plain loops. The
// reference the SIMD kernels' accumulators must equal bit for bit, and the portable fallback.
#include <algorithm>
#include <cstring>

#include "sparq/spmm_int8.h"

namespace sparq {
namespace {

constexpr int kMt = 8;

int xt_rows(int64_t) { return kMt; }

inline int32_t dot4(const uint8_t* a, int32_t packed) {
  int8_t w[4];
  std::memcpy(w, &packed, 4);
  return a[0] * w[0] + a[1] * w[1] + a[2] * w[2] + a[3] * w[3];
}

inline float finish(int32_t acc, int32_t za, int64_t n, const SparseInt8View& w, float sa, const Epilogue& ep) {
  float v = dequant_ref(acc, za, w.colsum[n], sa, w.scale[n]);
  if (ep.bias) v += ep.bias[n];
  return apply_activation_ref(v, ep.act);
}

void xt(const SparseInt8View& w, const uint8_t* xt, int /*mt*/, int rows, int64_t n0, int64_t n1, RowQuant rq, float* y,
        int64_t ldy, const Epilogue& ep, int32_t* acc_out, int64_t ldacc) {
  for (int64_t n = n0; n < n1; ++n) {
    int32_t acc[kMt] = {};
    for (int64_t c = 0; c < w.chunks; ++c) {
      for (uint32_t e = w.ptr[n * w.chunks + c]; e < w.ptr[n * w.chunks + c + 1]; ++e) {
        const int64_t q = c * kSpI8ChunkQuads + element_quad(w, e);
        const int32_t word = element_word(w, e);
        for (int m = 0; m < kMt; ++m) acc[m] += dot4(xt + (q * kMt + m) * 4, word);
      }
    }
    for (int m = 0; m < rows; ++m) {
      if (acc_out)
        acc_out[m * ldacc + n] = acc[m];
      else
        y[m * ldy + n] = finish(acc[m], rq.zero[m], n, w, rq.scale[m], ep);
    }
  }
}

void rows(const SparseInt8View& w, const uint8_t* xq, int64_t n0, int64_t n1, float sa, int32_t za, float* y,
          const Epilogue& ep, int32_t* acc_out) {
  for (int64_t n = n0; n < n1; ++n) {
    int32_t acc = 0;
    for (int64_t c = 0; c < w.chunks; ++c) {
      for (uint32_t e = w.ptr[n * w.chunks + c]; e < w.ptr[n * w.chunks + c + 1]; ++e)
        acc += dot4(xq + (c * kSpI8ChunkQuads + element_quad(w, e)) * 4, element_word(w, e));
    }
    if (acc_out)
      acc_out[n] = acc;
    else
      y[n] = finish(acc, za, n, w, sa, ep);
  }
}

}  // namespace

extern const SpmmInt8Kernels kSpmmInt8Scalar = {"scalar", 127, xt_rows, 1, xt, rows};

}  // namespace sparq
