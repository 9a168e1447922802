// The activation of the fused epilogue on the device; matches sparq::apply_activation_ref
// (relu keeps NaN, gelu is the exact erf form ONNX uses).
#pragma once

namespace sparq::cuda::detail {

__device__ __forceinline__ float apply_act(float v, int act) {
  if (act == 1) return v > 0.0f ? v : (v != v ? v : 0.0f);
  if (act == 2) return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
  return v;
}

}  // namespace sparq::cuda::detail
