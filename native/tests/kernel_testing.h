// Shared by the kernel tests: the shapes every variant is checked on, and a check of one packed
// format against the double-accumulation reference for every ISA this CPU has.
#pragma once
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "sparq/gemm_f32.h"
#include "sparq/packed.h"

namespace sparq_test {

struct Shape {
  int64_t M, K, N;
};

// Odd sizes from 1 to 37 and a few over 1000, as the acceptance asks.
inline std::vector<Shape> odd_shapes() {
  std::vector<Shape> s;
  const int64_t small[] = {1, 2, 3, 5, 7, 12, 13, 16, 17, 31, 32, 33, 37};
  for (int64_t M : {1, 2, 5, 12, 13, 37})
    for (int64_t K : {1, 3, 16, 37})
      for (int64_t N : small) s.push_back({M, K, N});
  s.push_back({1, 1031, 1003});
  s.push_back({37, 1029, 77});
  s.push_back({25, 96, 1027});
  s.push_back({130, 300, 129});
  return s;
}

// Per-output bound for rounding differences: sum |x||w| + |bias| + 1.
inline std::vector<double> error_scale(const std::vector<float>& x, int64_t M, int64_t K, const std::vector<float>& W,
                                       int64_t N, const float* bias) {
  std::vector<double> scale(static_cast<size_t>(M * N));
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 1.0 + (bias ? std::fabs(bias[j]) : 0.0);
      for (int64_t k = 0; k < K; ++k) s += std::fabs(x[i * K + k]) * std::fabs(W[k * N + j]);
      scale[i * N + j] = s;
    }
  return scale;
}

// Packs W in `format` for each ISA and compares matmul (all activations, with/without bias) to the
// reference within `tolerance` (scaled). NaN-prefilled outputs catch unwritten elements. `base` carries
// format options (e.g. strings["block"]).
inline void check_format_against_reference(const std::string& format, const std::vector<float>& W, const Shape& s,
                                           double tolerance, uint32_t seed, int threads = 1,
                                           const sparq::PackOptions& base = {}) {
  auto x = random_vector(static_cast<size_t>(s.M * s.K), seed + 1);
  auto bias = random_vector(static_cast<size_t>(s.N), seed + 2);
  auto scale = error_scale(x, s.M, s.K, W, s.N, bias.data());
  for (sparq::Isa isa : sparq::available_isas()) {
    sparq::PackOptions opts = base;
    opts.strings["isa"] = sparq::isa_name(isa);
    auto packed = sparq::pack_weights(format, W.data(), s.K, s.N, opts);
    for (auto act : {sparq::Activation::none, sparq::Activation::relu, sparq::Activation::gelu, sparq::Activation::relu6}) {
      for (bool with_bias : {false, true}) {
        sparq::Epilogue ep{with_bias ? bias.data() : nullptr, act};
        std::vector<float> want(static_cast<size_t>(s.M * s.N));
        sparq::gemm_f32_reference(x.data(), s.M, s.K, W.data(), s.N, want.data(), ep);
        auto got = nan_filled(want.size());
        packed->matmul(x.data(), s.M, got.data(), ep, threads);
        double err = max_scaled_error(got, want, scale);
        CHECK_MSG(err <= tolerance, "%s/%s M=%lld K=%lld N=%lld act=%d bias=%d: error %.3g > %.3g", format.c_str(),
                  sparq::isa_name(isa), (long long)s.M, (long long)s.K, (long long)s.N, (int)act, (int)with_bias, err,
                  tolerance);
      }
    }
  }
}

// Whether two packings of one W compute bit-identical outputs (M = 1, a few rows, many rows; NaN-filled
// outputs, so a value left unwritten differs too).
inline bool same_outputs(const sparq::PackedWeights& a, const sparq::PackedWeights& b) {
  const int64_t K = a.K(), N = a.N();
  for (int64_t M : {1, 5, 40}) {
    auto x = random_vector(static_cast<size_t>(M * K), 3);
    std::vector<float> ya(static_cast<size_t>(M * N), NAN), yb(static_cast<size_t>(M * N), NAN);
    a.matmul(x.data(), M, ya.data(), sparq::Epilogue{}, 1);
    b.matmul(x.data(), M, yb.data(), sparq::Epilogue{}, 1);
    if (std::memcmp(ya.data(), yb.data(), ya.size() * sizeof(float)) != 0) return false;
  }
  return true;
}

}  // namespace sparq_test
