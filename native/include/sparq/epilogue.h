// The fused epilogue every matmul kernel applies before its store: y = act(acc + bias[n]).
#pragma once
#include <cmath>
#include <cstdint>

namespace sparq {

// relu6 = min(max(x, 0), 6): MobileNet's Relu6 (a Clip), fused by the conv ops (sparq/conv.h).
enum class Activation : int32_t { none = 0, relu = 1, gelu = 2, relu6 = 3 };

struct Epilogue {
  const float* bias = nullptr;  // N values, or null
  Activation act = Activation::none;
};

// Exact ONNX Gelu (erf form): the reference every vectorised version is tested against.
inline float gelu_ref(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }

inline float apply_activation_ref(float v, Activation act) {
  switch (act) {
    case Activation::relu: return v > 0.0f ? v : (v != v ? v : 0.0f);  // NaN propagates
    case Activation::gelu: return gelu_ref(v);
    case Activation::relu6: return v != v ? v : (v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v));
    default: return v;
  }
}

// Scalar epilogue over one row segment [n0, n0 + count): used by reference kernels and edges.
inline void apply_epilogue_row(float* y, int64_t n0, int64_t count, const Epilogue& ep) {
  for (int64_t j = 0; j < count; ++j) {
    float v = y[j];
    if (ep.bias) v += ep.bias[n0 + j];
    y[j] = apply_activation_ref(v, ep.act);
  }
}

}  // namespace sparq
