// Indexing and resampling ops (ONNX GatherElements, GatherND, ScatterElements, ScatterND, Resize,
// DepthToSpace, SpaceToDepth) on contiguous row-major tensors. The common rules of ops.h hold:
// outputs are caller-allocated and fully written, errors are sparq::Error with a stable code, and
// data-dependent errors (indices out of range) are raised before anything is written.
#pragma once
#include <cstdint>

#include "sparq/ops.h"
#include "sparq/shape.h"

namespace sparq {

// ---------------------------------------------------------------- gather / scatter (any dtype)

// GatherElements: data and indices have the same rank; out has indices' shape and
// out[i0..i(axis)..] = data[i0..indices[i]..]. indices int64 or int32, negative ones count from the end;
// outside [-dim, dim) throws ERR_INDEX_OUT_OF_RANGE. Other dims of indices must be <= data's.
void gather_elements(DType dtype, const void* data, const Shape& data_shape, int64_t axis, DType index_type,
                     const void* indices, const Shape& indices_shape, void* out, const OpContext& ctx = {});

// GatherND with batch_dims b: indices [..., k] address data's dims b..b+k-1; the output is
// indices.shape[:-1] + data.shape[b+k:]. Throws ERR_INVALID_ARGUMENT for inconsistent shapes.
Shape gather_nd_output_shape(const Shape& data, const Shape& indices, int64_t batch_dims);
void gather_nd(DType dtype, const void* data, const Shape& data_shape, DType index_type, const void* indices,
               const Shape& indices_shape, int64_t batch_dims, void* out, const OpContext& ctx = {});

enum class ScatterReduction : int32_t { none = 0, add = 1, mul = 2, max = 3, min = 4 };

// ScatterElements: out = data, then out[.. indices[i] along axis ..] (op)= updates[i]; indices and
// updates share a shape of data's rank. Reductions need a numeric dtype (float32, int8/uint8, int32,
// int64); with `none`, duplicate indices leave the last update. out may alias data.
void scatter_elements(DType dtype, const void* data, const Shape& data_shape, int64_t axis, DType index_type,
                      const void* indices, const Shape& indices_shape, const void* updates, ScatterReduction reduction,
                      void* out, const OpContext& ctx = {});

// ScatterND: out = data, then for each index tuple indices[..., :] (k values) the slice
// out[tuple] (op)= updates[...]; updates has shape indices.shape[:-1] + data.shape[k:].
void scatter_nd(DType dtype, const void* data, const Shape& data_shape, DType index_type, const void* indices,
                const Shape& indices_shape, const void* updates, ScatterReduction reduction, void* out,
                const OpContext& ctx = {});

// ---------------------------------------------------------------- Resize (float32)

enum class ResizeMode : int32_t { nearest = 0, linear = 1, cubic = 2 };
enum class ResizeCoordinates : int32_t {
  half_pixel = 0, pytorch_half_pixel = 1, align_corners = 2, asymmetric = 3, tf_crop_and_resize = 4,
  half_pixel_symmetric = 5
};
// simple: opset 10's rule (no nearest_mode yet), floor when upsampling an axis and ceil when downsampling.
enum class ResizeNearest : int32_t { round_prefer_floor = 0, round_prefer_ceil = 1, floor = 2, ceil = 3, simple = 4 };

struct ResizeParams {
  ResizeMode mode = ResizeMode::nearest;
  ResizeCoordinates coordinates = ResizeCoordinates::half_pixel;
  ResizeNearest nearest = ResizeNearest::round_prefer_floor;
  float cubic_a = -0.75f;
  bool exclude_outside = false;
  float extrapolation = 0.0f;
  // Per axis of the input: the scale (output / input as the model states it, or as sizes imply) and,
  // for tf_crop_and_resize, the region of interest as fractions of the input.
  float scales[kMaxRank] = {1, 1, 1, 1, 1, 1, 1, 1};
  float roi_start[kMaxRank] = {};
  float roi_end[kMaxRank] = {1, 1, 1, 1, 1, 1, 1, 1};
};

// y[out] = x[in] resampled along every axis whose size, scale or region changes (separable: n-linear
// and cubic are products of 1-D kernels, nearest picks per axis). Throws ERR_INVALID_ARGUMENT when the
// ranks differ or a scale is not positive.
void resize(const ResizeParams& p, const float* x, const Shape& in, float* y, const Shape& out, const OpContext& ctx = {});

// ---------------------------------------------------------------- DepthToSpace / SpaceToDepth (any dtype)

// x [N, C, H, W] -> [N, C/b², H·b, W·b]; `crd` picks ONNX's CRD mode (else DCR).
void depth_to_space(DType dtype, const void* x, const Shape& in, int64_t block, bool crd, void* y, const OpContext& ctx = {});
// x [N, C, H, W] -> [N, C·b², H/b, W/b].
void space_to_depth(DType dtype, const void* x, const Shape& in, int64_t block, void* y, const OpContext& ctx = {});

}  // namespace sparq
