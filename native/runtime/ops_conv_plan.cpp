// The plan's conv and pooling ops (op codes 200-229, src/runtime/opcodes.ts): what each op's slots
// and attributes must agree on before it runs (every read and write then stays inside its slots),
// and the call into the kernels. ConvTranspose's ints: group, then the window (pads at the end unused:
// the output dims carry them). Layouts: codes 200-205 NHWC (rank 4, or rank 3 [N, W, C] for 1-D),
// 206-210 ONNX's NCHW (rank 3 or 4). Conv(NCHW) (209) has the same ints as ConvTranspose.
#include <string>

#include "sparq/conv.h"
#include "sparq/error.h"
#include "sparq/plan.h"

namespace sparq {

namespace {

enum : int32_t {
  kConv = 200, kDepthwise = 201, kMaxPool = 202, kAvgPool = 203, kGlobalAvgPool = 204, kGlobalMaxPool = 205,
  kConvTranspose = 206, kInstanceNorm = 207, kLrn = 208, kConvNchw = 209, kBatchNorm = 210,
};

struct View {
  const PlanOp& op;
  const std::vector<PlanSlot>& slots;
  bool has_in(size_t i) const { return i < op.inputs.size() && op.inputs[i] >= 0; }
  bool has_out(size_t i) const { return i < op.outputs.size() && op.outputs[i] >= 0; }
  const PlanSlot& in(size_t i) const { return slots[static_cast<size_t>(op.inputs[i])]; }
  const PlanSlot& out(size_t i) const { return slots[static_cast<size_t>(op.outputs[i])]; }
};

// [N, H, W, C] of an NHWC slot shape (rank 3 is [N, W, C] with H = 1).
bool nhwc(const Shape& s, int64_t& n, int64_t& h, int64_t& w, int64_t& c) {
  if (s.rank == 4) {
    n = s[0], h = s[1], w = s[2], c = s[3];
    return true;
  }
  if (s.rank == 3) {
    n = s[0], h = 1, w = s[1], c = s[2];
    return true;
  }
  return false;
}

// [N, C, H, W] of an NCHW slot shape (rank 3 is [N, C, W]).
bool nchw(const Shape& s, int64_t& n, int64_t& c, int64_t& h, int64_t& w) {
  if (s.rank == 4) {
    n = s[0], c = s[1], h = s[2], w = s[3];
    return true;
  }
  if (s.rank == 3) {
    n = s[0], c = s[1], h = 1, w = s[2];
    return true;
  }
  return false;
}

// Window attributes ints[at .. at+10): kh, kw, sh, sw, dh, dw, pt, pl, pb, pr.
void read_window(const std::vector<int64_t>& ints, size_t at, ConvGeom& g) {
  g.kh = ints[at], g.kw = ints[at + 1], g.sh = ints[at + 2], g.sw = ints[at + 3], g.dh = ints[at + 4], g.dw = ints[at + 5];
  g.pt = ints[at + 6], g.pl = ints[at + 7], g.pb = ints[at + 8], g.pr = ints[at + 9];
}

// Geometry of an NHWC op from its input and output slots (and window attributes, when it has them).
ConvGeom nhwc_geom(const View& v, bool window) {
  ConvGeom g;
  int64_t on = 0, oh = 0, ow = 0, oc = 0;
  nhwc(v.in(0).shape, g.N, g.H, g.W, g.C);
  nhwc(v.out(0).shape, on, oh, ow, oc);
  g.OH = oh, g.OW = ow, g.OC = oc;
  if (window) read_window(v.op.ints, 0, g);
  return g;
}

// Geometry of an NCHW op (ConvTranspose, Conv(NCHW)): dims from the slots, window from ints[1..11).
bool nchw_geom(const View& v, ConvGeom& g) {
  int64_t on = 0;
  const bool ok = nchw(v.in(0).shape, g.N, g.C, g.H, g.W) && nchw(v.out(0).shape, on, g.OC, g.OH, g.OW) &&
                  v.in(0).shape.rank == v.out(0).shape.rank && on == g.N;
  read_window(v.op.ints, 1, g);
  return ok;
}

ConvPost post_of(const View& v, size_t act_at, const float* residual) {
  ConvPost p;
  p.act = static_cast<ConvAct>(v.op.ints[act_at]);
  p.lo = v.op.floats[0], p.hi = v.op.floats[1];
  p.residual = residual;
  return p;
}

}  // namespace

bool is_conv_op(int32_t code) { return code >= 200 && code <= 229; }

const char* conv_op_name(int32_t code) {
  switch (code) {
    case kConv: return "Conv";
    case kDepthwise: return "DepthwiseConv";
    case kMaxPool: return "MaxPool";
    case kAvgPool: return "AveragePool";
    case kGlobalAvgPool: return "GlobalAveragePool";
    case kGlobalMaxPool: return "GlobalMaxPool";
    case kConvTranspose: return "ConvTranspose";
    case kInstanceNorm: return "InstanceNormalization";
    case kLrn: return "LRN";
    case kConvNchw: return "Conv(NCHW)";
    case kBatchNorm: return "BatchNormalization";
    default: return "unknown";
  }
}

void validate_conv_op(const PlanOp& op, const std::vector<PlanSlot>& slots) {
  const int32_t code = static_cast<int32_t>(op.code);
  const std::string name = conv_op_name(code);
  auto fail = [&](const std::string& why) { return invalid_argument("Invalid execution plan: " + name + " op: " + why); };
  const View v{op, slots};
  // Inputs [min, max] (optional ones -1) and outputs [min, max] (optional ones -1), all float32 unless said.
  auto need = [&](size_t in_min, size_t in_max, size_t out_min, size_t out_max) {
    if (op.inputs.size() < in_min || op.inputs.size() > in_max) throw fail("wrong number of inputs");
    if (op.outputs.size() < out_min || op.outputs.size() > out_max) throw fail("wrong number of outputs");
    for (size_t i = 0; i < op.inputs.size(); ++i) {
      const int32_t s = op.inputs[i];
      if (s == -1 && i >= in_min) continue;
      if (s < 0 || static_cast<size_t>(s) >= slots.size()) throw fail("input slot out of range");
    }
    for (size_t i = 0; i < op.outputs.size(); ++i) {
      const int32_t s = op.outputs[i];
      if (s == -1 && i >= out_min) continue;
      if (s < 0 || static_cast<size_t>(s) >= slots.size()) throw fail("output slot out of range");
      const SlotKind k = slots[static_cast<size_t>(s)].kind;
      if (k == SlotKind::input || k == SlotKind::constant) throw fail("writes to an input or a constant");
    }
    for (size_t i = 0; i < op.inputs.size(); ++i)
      if (v.has_in(i) && v.in(i).dtype != DType::float32) throw fail("expects float32 inputs");
    if (v.out(0).dtype != DType::float32) throw fail("expects a float32 output");
  };
  auto ints = [&](size_t n) {
    if (op.ints.size() != n) throw fail("wrong number of attributes");
  };
  auto window_ok = [&](const ConvGeom& g) {
    if (g.kh < 1 || g.kw < 1 || g.sh < 1 || g.sw < 1 || g.dh < 1 || g.dw < 1 || g.pt < 0 || g.pl < 0 || g.pb < 0 || g.pr < 0)
      throw fail("kernel, strides and dilations must be >= 1 and pads >= 0");
    if (g.kh > (1 << 20) || g.kw > (1 << 20) || g.dh > (1 << 20) || g.dw > (1 << 20) || g.sh > (1 << 20) ||
        g.sw > (1 << 20) || g.pt > (1 << 30) || g.pl > (1 << 30) || g.pb > (1 << 30) || g.pr > (1 << 30))
      throw fail("window attributes out of range");
  };
  auto nhwc_io = [&](bool window) {
    int64_t n = 0, h = 0, w = 0, c = 0;
    if (!nhwc(v.in(0).shape, n, h, w, c) || v.out(0).shape.rank != v.in(0).shape.rank) throw fail("expects rank-3 or rank-4 NHWC tensors");
    const ConvGeom g = nhwc_geom(v, window);
    if (v.out(0).shape[0] != g.N || (v.out(0).shape.rank == 3 && g.OH != 1)) throw fail("output batch differs from the input's");
    if (window) window_ok(g);
    return g;
  };
  auto act_ok = [&](size_t at) {
    if (op.ints[at] < 0 || op.ints[at] > 3) throw fail("unknown activation");
    if (op.floats.size() != 2) throw fail("needs the clip bounds");
  };
  switch (code) {
    case kConv: {
      need(1, 3, 1, 1);
      ints(11);
      act_ok(10);
      const ConvGeom g = nhwc_io(true);
      if (!op.weights || op.weights->K() != g.K() || op.weights->N() != g.OC) throw fail("weights are not [kh*kw*C, OC]");
      if (g.OH != conv_out_size(g.H, g.kh, g.sh, g.dh, g.pt, g.pb, false) || g.OW != conv_out_size(g.W, g.kw, g.sw, g.dw, g.pl, g.pr, false))
        throw fail("output dims do not match the window");
      if (v.has_in(1) && v.in(1).shape.numel() != g.OC) throw fail("bias is not OC floats");
      if (v.has_in(2) && v.in(2).shape != v.out(0).shape) throw fail("residual shape is not the output's");
      return;
    }
    case kDepthwise: {
      need(2, 4, 1, 1);
      ints(12);
      act_ok(10);
      const ConvGeom g = nhwc_io(true);
      const int64_t mult = op.ints[11];
      if (mult < 1 || g.OC != g.C * mult) throw fail("output channels are not C * multiplier");
      if (v.in(1).shape.numel() != g.kh * g.kw * g.OC) throw fail("weights are not [kh*kw, OC]");
      if (g.OH != conv_out_size(g.H, g.kh, g.sh, g.dh, g.pt, g.pb, false) || g.OW != conv_out_size(g.W, g.kw, g.sw, g.dw, g.pl, g.pr, false))
        throw fail("output dims do not match the window");
      if (v.has_in(2) && v.in(2).shape.numel() != g.OC) throw fail("bias is not OC floats");
      if (v.has_in(3) && v.in(3).shape != v.out(0).shape) throw fail("residual shape is not the output's");
      return;
    }
    case kMaxPool: case kAvgPool: {
      need(1, 1, 1, 2);
      ints(12);
      const ConvGeom g = nhwc_io(true);
      if (g.OC != g.C) throw fail("output channels differ from the input's");
      const bool ceil = op.ints[10] != 0;
      if (g.OH != conv_out_size(g.H, g.kh, g.sh, g.dh, g.pt, g.pb, ceil) || g.OW != conv_out_size(g.W, g.kw, g.sw, g.dw, g.pl, g.pr, ceil))
        throw fail("output dims do not match the window");
      if (v.has_out(1)) {
        if (code != kMaxPool || v.out(1).dtype != DType::int64 || v.out(1).shape.numel() != v.out(0).shape.numel())
          throw fail("indices must be int64 of the output's size");
      }
      return;
    }
    case kGlobalAvgPool: case kGlobalMaxPool: {
      need(1, 1, 1, 1);
      ints(0);
      int64_t n = 0, h = 0, w = 0, c = 0;
      if (!nhwc(v.in(0).shape, n, h, w, c)) throw fail("expects a rank-3 or rank-4 NHWC input");
      if (v.out(0).shape.numel() != n * c) throw fail("output is not N*C values");
      return;
    }
    case kConvNchw: {
      need(2, 3, 1, 1);
      ints(11);
      ConvGeom g;
      if (!nchw_geom(v, g)) throw fail("expects rank-3 or rank-4 NCHW tensors of one batch");
      const int64_t group = op.ints[0];
      window_ok(g);
      if (group < 1 || g.C % group != 0 || g.OC % group != 0) throw fail("channels do not divide into groups");
      if (v.in(1).shape.numel() != g.OC * (g.C / group) * g.kh * g.kw) throw fail("weights are not [OC, C/group, kh, kw]");
      if (g.OH != conv_out_size(g.H, g.kh, g.sh, g.dh, g.pt, g.pb, false) || g.OW != conv_out_size(g.W, g.kw, g.sw, g.dw, g.pl, g.pr, false))
        throw fail("output dims do not match the window");
      if (v.has_in(2) && v.in(2).shape.numel() != g.OC) throw fail("bias is not OC floats");
      return;
    }
    case kBatchNorm: {
      need(5, 5, 1, 1);
      ints(0);
      const Shape& s = v.in(0).shape;
      if (s.rank < 2 || s != v.out(0).shape) throw fail("expects [N, C, ...] in and out");
      for (size_t i = 1; i < 5; ++i)
        if (v.in(i).shape.numel() != s[1]) throw fail("scale, bias, mean and var must be C floats");
      if (op.floats.size() != 1) throw fail("needs epsilon");
      return;
    }
    case kConvTranspose: {
      need(2, 3, 1, 1);
      ints(11);
      ConvGeom g;
      if (!nchw_geom(v, g)) throw fail("expects rank-3 or rank-4 NCHW tensors of one batch");
      const int64_t group = op.ints[0];
      window_ok(g);
      if (group < 1 || g.C % group != 0 || g.OC % group != 0) throw fail("channels do not divide into groups");
      if (v.in(1).shape.numel() != g.C * (g.OC / group) * g.kh * g.kw) throw fail("weights are not [Cin, Cout/group, kh, kw]");
      if (v.has_in(2) && v.in(2).shape.numel() != g.OC) throw fail("bias is not Cout floats");
      return;
    }
    case kInstanceNorm: {
      need(3, 3, 1, 1);
      ints(0);
      const Shape& s = v.in(0).shape;
      if (s.rank < 2 || s != v.out(0).shape) throw fail("expects [N, C, ...] in and out");
      if (v.in(1).shape.numel() != s[1] || v.in(2).shape.numel() != s[1]) throw fail("scale and bias must be C floats");
      if (op.floats.size() != 1) throw fail("needs epsilon");
      return;
    }
    case kLrn: {
      need(1, 1, 1, 1);
      ints(1);
      const Shape& s = v.in(0).shape;
      if (s.rank < 2 || s != v.out(0).shape) throw fail("expects [N, C, ...] in and out");
      if (op.ints[0] < 1) throw fail("size must be >= 1");
      if (op.floats.size() != 3) throw fail("needs alpha, beta and bias");
      return;
    }
    default:
      throw fail("unknown op code " + std::to_string(code));
  }
}

void run_conv_op(const PlanOp& op, const std::vector<PlanSlot>& slots, void* const* ptr, const OpContext& ctx) {
  const View v{op, slots};
  auto fin = [&](size_t i) -> const float* { return v.has_in(i) ? static_cast<const float*>(ptr[op.inputs[i]]) : nullptr; };
  float* y = static_cast<float*>(ptr[op.outputs[0]]);
  switch (static_cast<int32_t>(op.code)) {
    case kConv: {
      const ConvGeom g = nhwc_geom(v, true);
      conv2d_nhwc(fin(0), g, *op.weights, fin(1), post_of(v, 10, fin(2)), y, ctx.threads);
      return;
    }
    case kDepthwise: {
      const ConvGeom g = nhwc_geom(v, true);
      depthwise_nhwc(fin(0), g, op.ints[11], fin(1), fin(2), post_of(v, 10, fin(3)), y, ctx);
      return;
    }
    case kMaxPool: {
      const ConvGeom g = nhwc_geom(v, true);
      int64_t* idx = v.has_out(1) ? static_cast<int64_t*>(ptr[op.outputs[1]]) : nullptr;
      max_pool_nhwc(fin(0), g, y, idx, static_cast<int>(op.ints[11]), ctx);
      return;
    }
    case kAvgPool:
      avg_pool_nhwc(fin(0), nhwc_geom(v, true), op.ints[11] != 0, y, ctx);
      return;
    case kGlobalAvgPool: case kGlobalMaxPool: {
      int64_t n = 0, h = 0, w = 0, c = 0;
      nhwc(v.in(0).shape, n, h, w, c);
      global_pool_nhwc(fin(0), n, h * w, c, static_cast<int32_t>(op.code) == kGlobalMaxPool, y);
      return;
    }
    case kConvNchw: case kConvTranspose: {
      ConvGeom g;
      nchw_geom(v, g);
      if (static_cast<int32_t>(op.code) == kConvNchw)
        conv_nchw_gemm(fin(0), fin(1), fin(2), g, op.ints[0], y, ctx);
      else
        conv_transpose_nchw_gemm(fin(0), fin(1), fin(2), g, op.ints[0], y, ctx);
      return;
    }
    case kBatchNorm: {
      const Shape& s = v.in(0).shape;
      batch_norm_nchw(fin(0), s[0], s[1], s.prod(2, s.rank), fin(1), fin(2), fin(3), fin(4), op.floats[0], y);
      return;
    }
    case kInstanceNorm: {
      const Shape& s = v.in(0).shape;
      instance_norm_nchw(fin(0), s[0], s[1], s.prod(2, s.rank), fin(1), fin(2), op.floats[0], y);
      return;
    }
    case kLrn: {
      const Shape& s = v.in(0).shape;
      lrn_nchw(fin(0), s[0], s[1], s.prod(2, s.rank), op.ints[0], op.floats[0], op.floats[1], op.floats[2], y);
      return;
    }
    default:
      return;
  }
}

}  // namespace sparq
