// Resize (sparq/ops_indexing.h): nearest / n-linear / cubic, every coordinate transformation of
// opsets 10-19, applied one axis at a time (the kernels are separable, as onnxruntime's are), and its
// plan op (237):
//   inputs [x], ints [mode, coordinates, nearest_mode, exclude_outside]
//   floats [cubic_a, extrapolation, scales (rank), roi_start (rank), roi_end (rank)]
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "sparq/aligned.h"
#include "sparq/error.h"
#include "sparq/ops_indexing.h"
#include "sparq/plan_ops.h"

namespace sparq {

namespace {

// One output position along an axis: up to 4 input taps with weights, or the extrapolation value.
struct Taps {
  int64_t idx[4];
  float w[4];
  int n;
  bool outside;
};

float source_coordinate(const ResizeParams& p, int axis, int64_t out_i, int64_t in_len, int64_t out_len) {
  const float scale = p.scales[axis];
  const float x = static_cast<float>(out_i);
  switch (p.coordinates) {
    case ResizeCoordinates::half_pixel: return (x + 0.5f) / scale - 0.5f;
    case ResizeCoordinates::pytorch_half_pixel: return out_len > 1 ? (x + 0.5f) / scale - 0.5f : 0.0f;
    case ResizeCoordinates::align_corners:
      return out_len == 1 ? 0.0f : x * static_cast<float>(in_len - 1) / static_cast<float>(out_len - 1);
    case ResizeCoordinates::asymmetric: return x / scale;
    case ResizeCoordinates::tf_crop_and_resize: {
      const float s = p.roi_start[axis], e = p.roi_end[axis];
      return out_len > 1 ? s * static_cast<float>(in_len - 1) + x * (e - s) * static_cast<float>(in_len - 1) / static_cast<float>(out_len - 1)
                         : 0.5f * (s + e) * static_cast<float>(in_len - 1);
    }
    case ResizeCoordinates::half_pixel_symmetric: {
      const float adjustment = static_cast<float>(out_len) / (static_cast<float>(in_len) * scale);
      const float center = static_cast<float>(in_len) / 2.0f;
      return center * (1.0f - adjustment) + (x + 0.5f) / scale - 0.5f;
    }
  }
  return x;
}

int64_t nearest_index(ResizeNearest mode, float x, bool downsampling) {
  switch (mode) {
    case ResizeNearest::simple: return static_cast<int64_t>(downsampling ? std::ceil(x) : x);
    case ResizeNearest::round_prefer_floor: return x == std::floor(x) + 0.5f ? static_cast<int64_t>(std::floor(x)) : static_cast<int64_t>(std::round(x));
    case ResizeNearest::round_prefer_ceil: return static_cast<int64_t>(std::round(x));
    case ResizeNearest::floor: return static_cast<int64_t>(std::floor(x));
    case ResizeNearest::ceil: return static_cast<int64_t>(std::ceil(x));
  }
  return 0;
}

std::vector<Taps> axis_taps(const ResizeParams& p, int axis, int64_t in_len, int64_t out_len) {
  std::vector<Taps> taps(static_cast<size_t>(out_len));
  const bool crop = p.coordinates == ResizeCoordinates::tf_crop_and_resize;
  auto clamp = [&](int64_t i) { return std::min(std::max<int64_t>(i, 0), in_len - 1); };
  for (int64_t o = 0; o < out_len; ++o) {
    Taps& t = taps[static_cast<size_t>(o)];
    const float x = source_coordinate(p, axis, o, in_len, out_len);
    t.outside = crop && (x < 0.0f || x > static_cast<float>(in_len - 1));
    if (p.mode == ResizeMode::nearest) {
      t.n = 1;
      t.idx[0] = clamp(nearest_index(p.nearest, x, p.scales[axis] < 1.0f));
      t.w[0] = 1.0f;
    } else if (p.mode == ResizeMode::linear) {
      const float xc = std::min(std::max(x, 0.0f), static_cast<float>(in_len - 1));
      const int64_t x0 = clamp(static_cast<int64_t>(xc)), x1 = clamp(x0 + 1);
      const float f = xc - static_cast<float>(x0);
      t.n = 2;
      t.idx[0] = x0;
      t.idx[1] = x1;
      t.w[0] = x0 == x1 ? 0.5f : 1.0f - f;
      t.w[1] = x0 == x1 ? 0.5f : f;
    } else {
      const float A = p.cubic_a;
      const float x0f = std::floor(x);
      const float r = x - x0f;
      const int64_t x0 = static_cast<int64_t>(x0f);
      // ONNX's cubic convolution coefficients for taps x0-1 .. x0+2
      const float c[4] = {((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A,
                          ((A + 2) * r - (A + 3)) * r * r + 1,
                          ((A + 2) * (1 - r) - (A + 3)) * (1 - r) * (1 - r) + 1,
                          ((A * (2 - r) - 5 * A) * (2 - r) + 8 * A) * (2 - r) - 4 * A};
      float sum = 0.0f;
      t.n = 4;
      for (int k = 0; k < 4; ++k) {
        const int64_t i = x0 - 1 + k;
        const bool in = i >= 0 && i < in_len;
        t.idx[k] = clamp(i);
        t.w[k] = p.exclude_outside && !in ? 0.0f : c[k];
        sum += t.w[k];
      }
      if (p.exclude_outside && sum != 0.0f)
        for (float& w : t.w) w /= sum;
    }
  }
  return taps;
}

// y[outer, out_len, inner] from x[outer, in_len, inner] along one axis.
void resample_axis(const ResizeParams& p, const std::vector<Taps>& taps, const float* x, float* y, int64_t outer,
                   int64_t in_len, int64_t out_len, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o) {
    const float* xs = x + o * in_len * inner;
    float* ys = y + o * out_len * inner;
    for (int64_t j = 0; j < out_len; ++j) {
      const Taps& t = taps[static_cast<size_t>(j)];
      float* yr = ys + j * inner;
      if (t.outside) {
        std::fill(yr, yr + inner, p.extrapolation);
        continue;
      }
      const float* r0 = xs + t.idx[0] * inner;
      const float w0 = t.w[0];
      if (t.n == 1) {
        std::memcpy(yr, r0, static_cast<size_t>(inner) * sizeof(float));
        continue;
      }
      for (int64_t i = 0; i < inner; ++i) yr[i] = w0 * r0[i];
      for (int k = 1; k < t.n; ++k) {
        const float* rk = xs + t.idx[k] * inner;
        const float wk = t.w[k];
        for (int64_t i = 0; i < inner; ++i) yr[i] += wk * rk[i];
      }
    }
  }
}

thread_local AlignedBuffer<float> resize_scratch;

}  // namespace

void resize(const ResizeParams& p, const float* x, const Shape& in, float* y, const Shape& out, const OpContext& ctx) {
  (void)ctx;
  if (in.rank != out.rank) throw invalid_argument("Resize: input " + in.str() + " and output " + out.str() + " differ in rank");
  for (int a = 0; a < in.rank; ++a) {
    if (!(p.scales[a] > 0.0f) || !std::isfinite(p.scales[a])) throw invalid_argument("Resize: scales must be positive and finite");
    if (in[a] == 0 && out[a] != 0) throw invalid_argument("Resize: cannot resize an empty dim to " + std::to_string(out[a]));
  }
  if (out.numel() == 0) return;
  // The axes that change, resampled in turn through two scratch buffers; the last pass writes y.
  std::vector<int> axes;
  for (int a = 0; a < in.rank; ++a)
    if (in[a] != out[a] || p.scales[a] != 1.0f || p.coordinates == ResizeCoordinates::tf_crop_and_resize) axes.push_back(a);
  if (axes.empty()) {
    std::memcpy(y, x, static_cast<size_t>(in.numel()) * sizeof(float));
    return;
  }
  Shape cur = in;
  size_t biggest = 0;
  for (int a : axes) {
    cur[a] = out[a];
    biggest = std::max(biggest, static_cast<size_t>(cur.numel()));
  }
  float* scratch = axes.size() > 1 ? resize_scratch.reserve(2 * biggest) : nullptr;
  cur = in;
  const float* src = x;
  for (size_t k = 0; k < axes.size(); ++k) {
    const int a = axes[k];
    const bool last = k + 1 == axes.size();
    float* dst = last ? y : scratch + (k % 2) * biggest;
    const auto taps = axis_taps(p, a, cur[a], out[a]);
    resample_axis(p, taps, src, dst, cur.prod(0, a), cur[a], out[a], cur.prod(a + 1, cur.rank));
    cur[a] = out[a];
    src = dst;
  }
}

namespace {

ResizeParams params_of(const PlanOp& op, int rank) {
  ResizeParams p;
  p.mode = static_cast<ResizeMode>(op.ints[0]);
  p.coordinates = static_cast<ResizeCoordinates>(op.ints[1]);
  p.nearest = static_cast<ResizeNearest>(op.ints[2]);
  p.exclude_outside = op.ints[3] != 0;
  p.cubic_a = op.floats[0];
  p.extrapolation = op.floats[1];
  for (int a = 0; a < rank; ++a) {
    p.scales[a] = op.floats[2 + static_cast<size_t>(a)];
    p.roi_start[a] = op.floats[2 + static_cast<size_t>(rank + a)];
    p.roi_end[a] = op.floats[2 + static_cast<size_t>(2 * rank + a)];
  }
  return p;
}

void validate_resize(const PlanOp& op, const std::vector<PlanSlot>& slots) {
  PlanOpCheck c(op, slots, "Resize");
  c.arity(1, 1, 1, 1);
  const PlanSlot &x = c.in(0), &y = c.out(0);
  c.dtype(x, DType::float32, "X");
  c.dtype(y, DType::float32, "Y");
  const int r = x.shape.rank;
  if (y.shape.rank != r) throw c.fail("ranks differ");
  if (op.ints.size() != 4 || op.floats.size() != static_cast<size_t>(2 + 3 * r)) throw c.fail("wrong attribute count");
  if (op.ints[0] < 0 || op.ints[0] > 2 || op.ints[1] < 0 || op.ints[1] > 5 || op.ints[2] < 0 || op.ints[2] > 4) throw c.fail("unknown mode");
  for (int a = 0; a < r; ++a) {
    const float s = op.floats[2 + static_cast<size_t>(a)];
    if (!(s > 0.0f) || !std::isfinite(s)) throw c.fail("scales must be positive");
    if (x.shape[a] == 0 && y.shape[a] != 0) throw c.fail("cannot resize an empty dim");
  }
}

void run_resize(const PlanOp& op, const std::vector<PlanSlot>& slots, void* const* ptr, const OpContext& ctx) {
  const PlanSlot& x = slots[static_cast<size_t>(op.inputs[0])];
  resize(params_of(op, x.shape.rank), static_cast<const float*>(ptr[op.inputs[0]]), x.shape, static_cast<float*>(ptr[op.outputs[0]]),
         slots[static_cast<size_t>(op.outputs[0])].shape, ctx);
}

}  // namespace

SPARQ_REGISTER_PLAN_OP(resize, OpCode::resize, (PlanOpHandler{"Resize", validate_resize, run_resize}));

}  // namespace sparq
