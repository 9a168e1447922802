// Convolutions and pooling. The fast ops work on channels-last (NHWC) activations, which the graph
// pass src/graph/conv-layout.ts keeps between them: there a dense or pruned conv is a GEMM over the
// im2col rows (no copy at all for a 1x1 stride-1 conv) on any packed-weight format (dense, int8,
// sparse, sparse-int8: W viewed as [kh*kw*Cin, Cout]), a kxk conv on dense fp32 weights runs the
// direct (indirect-GEMM) kernel, and a depthwise conv is a channel-vectorised direct kernel.
// ConvTranspose and convs with run-time weights keep ONNX's NCHW and run as sgemm GEMMs;
// InstanceNormalization and LRN are plain loops (rare in the models that matter for speed). A 1-D op
// is the 2-D one with H = 1.
#pragma once
#include <cstdint>
#include <vector>

#include "sparq/cpu.h"
#include "sparq/ops.h"
#include "sparq/packed.h"

namespace sparq {

struct PlanOp;
struct PlanSlot;

// The geometry of one conv or pool: input [N, H, W, C], output [N, OH, OW, OC] (NHWC), a kh x kw
// window with strides, dilations and pads (top, left, bottom, right). Taps outside the input read
// zeros (conv), are skipped (max pool) or counted by the pool's rule (average pool).
struct ConvGeom {
  int64_t N = 1, H = 1, W = 1, C = 1;
  int64_t OH = 1, OW = 1, OC = 1;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pt = 0, pl = 0, pb = 0, pr = 0;
  int64_t K() const { return kh * kw * C; }
  int64_t rows() const { return N * OH * OW; }  // output pixels: the GEMM's M
};

// Calls fn(ki, kj, ih, iw) for each tap of output pixel (oh, ow) that lies inside the input.
template <typename Fn>
inline void for_each_tap(const ConvGeom& g, int64_t oh, int64_t ow, Fn&& fn) {
  for (int64_t ki = 0; ki < g.kh; ++ki) {
    const int64_t ih = oh * g.sh - g.pt + ki * g.dh;
    if (ih < 0 || ih >= g.H) continue;
    for (int64_t kj = 0; kj < g.kw; ++kj) {
      const int64_t iw = ow * g.sw - g.pl + kj * g.dw;
      if (iw >= 0 && iw < g.W) fn(ki, kj, ih, iw);
    }
  }
}

// What a conv applies after bias: none, relu, clip(lo, hi) (Relu6 is clip(0, 6)), hardswish.
enum class ConvAct : int32_t { none = 0, relu = 1, clip = 2, hardswish = 3 };

struct ConvPost {
  const float* residual = nullptr;  // added before the activation (ResNet's skip), same layout as y
  ConvAct act = ConvAct::none;
  float lo = 0.0f, hi = 0.0f;  // clip bounds
};

// Floor output size of a conv (or ceil for pools with ceil_mode) along one axis; -1 when the window
// does not fit. Shared by the executor's validation and the tests.
int64_t conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t dilation, int64_t pad_begin, int64_t pad_end, bool ceil_mode);

// ------------------------------------------------------------------ dense and pruned convs (GEMM)

// col[r, (ki*kw + kj)*C + c] = x at output pixel m0 + r, tap (ki, kj), channel c (0 outside).
void im2col_nhwc(const float* x, const ConvGeom& g, int64_t m0, int64_t rows, float* col);

// y[N, OH, OW, OC] = post(x ⊛ W + bias) with W packed as [kh*kw*C, OC] in any format.
void conv2d_nhwc(const float* x, const ConvGeom& g, const PackedWeights& w, const float* bias, const ConvPost& post,
                 float* y, int threads);

// The reference: a direct loop with double accumulation over unpacked W [kh*kw*C, OC].
void conv2d_nhwc_reference(const float* x, const ConvGeom& g, const float* W, const float* bias, const ConvPost& post,
                           float* y);

// In-place activation (and residual add) over `count` values; `residual` advances with y.
void apply_conv_post(float* y, int64_t count, const ConvPost& post);
float conv_act_ref(float v, const ConvPost& post);

// ------------------------------------------------------------------ depthwise, per-ISA

// Depthwise conv over output rows [row0, row0 + rows) (a row is one (n, oh)): OC = C * mult, output
// channel o reads input channel o / mult; w is [kh*kw, OC] (tap-major, channels contiguous).
using DepthwiseFn = void (*)(const float* x, const ConvGeom& g, int64_t mult, const float* w, const float* bias,
                             const ConvPost& post, float* y, int64_t row0, int64_t rows);

// Direct conv over output pixels [m_begin, m_end) on the dense format's weight panels (32 columns,
// panel p at panels + p·K·32, K = kh·kw·C), bias, residual and activation included; x needs C >= 1.
using DirectConvFn = void (*)(const float* x, const ConvGeom& g, const float* panels, const float* bias, const ConvPost& post,
                              float* y, int64_t m_begin, int64_t m_end);

struct ConvKernels {
  const char* name;
  DepthwiseFn depthwise;
  void (*post)(float* y, int64_t count, const ConvPost& post);  // apply_conv_post
  DirectConvFn direct;  // null where the ISA has none (the GEMM path runs)
  int64_t direct_nr;    // the panel width `direct` expects
  // Max pool without indices over output rows [row0, row0 + rows) (NaN propagates).
  void (*max_pool)(const float* x, const ConvGeom& g, float* y, int64_t row0, int64_t rows);
};
void max_pool_rows_ref(const float* x, const ConvGeom& g, float* y, int64_t row0, int64_t rows);

void conv_direct_avx512(const float* x, const ConvGeom& g, const float* panels, const float* bias, const ConvPost& post,
                        float* y, int64_t m_begin, int64_t m_end);
extern const ConvKernels kConvScalar;
extern const ConvKernels kConvAvx512;
const ConvKernels& conv_kernels(Isa isa);

void depthwise_nhwc_ref(const float* x, const ConvGeom& g, int64_t mult, const float* w, const float* bias,
                        const ConvPost& post, float* y, int64_t row0, int64_t rows);
// The whole depthwise conv, rows split over threads.
void depthwise_nhwc(const float* x, const ConvGeom& g, int64_t mult, const float* w, const float* bias,
                    const ConvPost& post, float* y, const OpContext& ctx);

// ------------------------------------------------------------------ pooling (NHWC, OC = C)

// Max over the window's taps inside the input (-inf when none). `indices`, when not null, receives
// ONNX's flat NCHW index of each max ((n*C + c)*H + h)*W + w (storage_order 0) or, with
// storage_order 1, (n*C + c)*H*W + w*H + h; laid out NHWC like y.
void max_pool_nhwc(const float* x, const ConvGeom& g, float* y, int64_t* indices, int storage_order, const OpContext& ctx);
// Mean over the taps inside the input, or with count_include_pad over those inside the padded input.
void avg_pool_nhwc(const float* x, const ConvGeom& g, bool count_include_pad, float* y, const OpContext& ctx);
// y[n, c] = mean / max of x[n, :, :, c] over H*W pixels.
void global_pool_nhwc(const float* x, int64_t N, int64_t HW, int64_t C, bool max, float* y);

// ------------------------------------------------------------------ NCHW ops

// ConvTranspose: x [N, Cin, H, W], w [Cin, Cout/group, kh, kw], y [N, Cout, OH, OW]:
// y[n, o, ih*sh - pt + ki*dh, iw*sw - pl + kj*dw] += x[n, i, ih, iw] * w[i, o - g*Cout/group, ki, kj].
void conv_transpose_nchw(const float* x, const float* w, const float* bias, const ConvGeom& g, int64_t group, float* y);
// Conv with weights known only at run time (a graph input): x [N, C, H, W], w [OC, C/group, kh, kw],
// y [N, OC, OH, OW], a direct loop (models with constant weights run conv2d_nhwc).
void conv_nchw(const float* x, const float* w, const float* bias, const ConvGeom& g, int64_t group, float* y);
// The same two as GEMMs on sgemm (native/runtime/ops_conv_nchw.cpp): what the plan runs; the loops above
// are their reference.
void conv_transpose_nchw_gemm(const float* x, const float* w, const float* bias, const ConvGeom& g, int64_t group, float* y,
                              const OpContext& ctx);
void conv_nchw_gemm(const float* x, const float* w, const float* bias, const ConvGeom& g, int64_t group, float* y,
                    const OpContext& ctx);
// BatchNormalization (inference) with run-time statistics: y = (x - mean[c]) / sqrt(var[c] + eps) * scale[c] + bias[c]
// over x [N, C, S] (constant ones fold into the conv before them, or into Mul/Add).
void batch_norm_nchw(const float* x, int64_t N, int64_t C, int64_t S, const float* scale, const float* bias, const float* mean,
                     const float* var, float eps, float* y);
// y = scale[c] * (x - mean) / sqrt(var + eps) + bias[c], statistics over the S spatial values of each (n, c).
void instance_norm_nchw(const float* x, int64_t N, int64_t C, int64_t S, const float* scale, const float* bias, float eps,
                        float* y);
// LRN across channels: y = x / (bias + alpha/size * sum of x² over the `size` channels around c)^beta.
void lrn_nchw(const float* x, int64_t N, int64_t C, int64_t S, int64_t size, float alpha, float beta, float bias, float* y);

// ------------------------------------------------------------------ the plan's conv ops (codes 200-229)

bool is_conv_op(int32_t code);
const char* conv_op_name(int32_t code);
// Throws sparq::Error(ERR_INVALID_ARGUMENT) when the op's slots do not agree with its attributes.
void validate_conv_op(const PlanOp& op, const std::vector<PlanSlot>& slots);
void run_conv_op(const PlanOp& op, const std::vector<PlanSlot>& slots, void* const* ptr, const OpContext& ctx);

}  // namespace sparq
