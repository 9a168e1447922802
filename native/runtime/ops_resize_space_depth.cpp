// DepthToSpace and SpaceToDepth (sparq/ops_indexing.h) as the 6-D transposes ONNX defines them by,
// and their plan ops (238, 239): inputs [x], ints [blocksize, crd (DepthToSpace)].
#include <string>
#include <vector>

#include "sparq/error.h"
#include "sparq/ops_indexing.h"
#include "sparq/plan_ops.h"

namespace sparq {

namespace {

void check_nchw(const Shape& in, int64_t b, const char* op) {
  if (in.rank != 4) throw invalid_argument(std::string(op) + ": input must be 4-D [N, C, H, W], not " + in.str());
  if (b < 1) throw invalid_argument(std::string(op) + ": blocksize must be >= 1");
}

Shape depth_to_space_shape(const Shape& in, int64_t b) {
  check_nchw(in, b, "DepthToSpace");
  if (in[1] % (b * b) != 0) throw invalid_argument("DepthToSpace: channels " + std::to_string(in[1]) + " are not a multiple of blocksize²");
  return Shape{in[0], in[1] / (b * b), in[2] * b, in[3] * b};
}

Shape space_to_depth_shape(const Shape& in, int64_t b) {
  check_nchw(in, b, "SpaceToDepth");
  if (in[2] % b != 0 || in[3] % b != 0) throw invalid_argument("SpaceToDepth: H and W must be multiples of blocksize");
  return Shape{in[0], in[1] * b * b, in[2] / b, in[3] / b};
}

}  // namespace

void depth_to_space(DType dtype, const void* x, const Shape& in, int64_t b, bool crd, void* y, const OpContext& ctx) {
  depth_to_space_shape(in, b);
  const int64_t N = in[0], C = in[1] / (b * b), H = in[2], W = in[3];
  // DCR: [N, b, b, C, H, W] -> [N, C, H, b, W, b]; CRD: [N, C, b, b, H, W] -> the same.
  const Shape view = crd ? Shape{N, C, b, b, H, W} : Shape{N, b, b, C, H, W};
  const int64_t dcr[6] = {0, 3, 4, 1, 5, 2}, crd_perm[6] = {0, 1, 4, 2, 5, 3};
  transpose(dtype, x, view, crd ? crd_perm : dcr, y, ctx);
}

void space_to_depth(DType dtype, const void* x, const Shape& in, int64_t b, void* y, const OpContext& ctx) {
  space_to_depth_shape(in, b);
  const int64_t N = in[0], C = in[1], H = in[2] / b, W = in[3] / b;
  const int64_t perm[6] = {0, 3, 5, 1, 2, 4};  // [N, C, H, b, W, b] -> [N, b, b, C, H, W]
  transpose(dtype, x, Shape{N, C, H, b, W, b}, perm, y, ctx);
}

namespace {

void validate(const PlanOp& op, const std::vector<PlanSlot>& slots) {
  const bool d2s = op.code == OpCode::depth_to_space;
  PlanOpCheck c(op, slots, d2s ? "DepthToSpace" : "SpaceToDepth");
  c.arity(1, 1, 1, 1);
  if (op.ints.size() != (d2s ? 2u : 1u)) throw c.fail("wrong attribute count");
  if (c.out(0).dtype != c.in(0).dtype) throw c.fail("dtypes differ");
  const Shape want = d2s ? depth_to_space_shape(c.in(0).shape, op.ints[0]) : space_to_depth_shape(c.in(0).shape, op.ints[0]);
  c.shape(c.out(0), want, "output");
}

void run(const PlanOp& op, const std::vector<PlanSlot>& slots, void* const* ptr, const OpContext& ctx) {
  const PlanSlot& x = slots[static_cast<size_t>(op.inputs[0])];
  if (op.code == OpCode::depth_to_space)
    depth_to_space(x.dtype, ptr[op.inputs[0]], x.shape, op.ints[0], op.ints[1] != 0, ptr[op.outputs[0]], ctx);
  else
    space_to_depth(x.dtype, ptr[op.inputs[0]], x.shape, op.ints[0], ptr[op.outputs[0]], ctx);
}

}  // namespace

SPARQ_REGISTER_PLAN_OP(depth_to_space, OpCode::depth_to_space, (PlanOpHandler{"DepthToSpace", validate, run}));
SPARQ_REGISTER_PLAN_OP(space_to_depth, OpCode::space_to_depth, (PlanOpHandler{"SpaceToDepth", validate, run}));

}  // namespace sparq
