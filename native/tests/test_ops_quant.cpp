// int8 ops (ops.h): DynamicQuantizeLinear (ONNX's own example and random data), QuantizeLinear /
// DequantizeLinear per tensor and per axis, MatMulInteger with zero points and batch broadcasting.
#include <cmath>
#include <random>

#include "ops_testing.h"
#include "sparq/sgemm.h"

using namespace sparq_test;
using sparq::DType;
using sparq::Shape;

TEST(dynamic_quantize_linear_onnx_example) {
  const std::vector<float> x{0.0f, 2.0f, -3.0f, -2.5f, 1.34f, 0.5f};
  std::vector<uint8_t> y(6, 7);
  float scale = 0;
  uint8_t zp = 0;
  sparq::dynamic_quantize_linear(x.data(), 6, y.data(), &scale, &zp);
  CHECK(std::fabs(scale - 0.0196078438f) < 1e-9f);
  CHECK(zp == 153);
  CHECK((y == std::vector<uint8_t>{153, 255, 0, 26, 221, 179}));
  // All positive: zero point 0; all zero: scale 1, zero point 0.
  const std::vector<float> pos{1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  sparq::dynamic_quantize_linear(pos.data(), 6, y.data(), &scale, &zp);
  CHECK(zp == 0 && std::fabs(scale - 6.0f / 255.0f) < 1e-9f && y[5] == 255 && y[1] == 85);
  const std::vector<float> zeros(5, 0.0f);
  sparq::dynamic_quantize_linear(zeros.data(), 5, y.data(), &scale, &zp);
  CHECK(scale == 1.0f && zp == 0 && y[0] == 0);
}

TEST(dynamic_quantize_linear_matches_reference_on_random_data) {
  for (int64_t n : {1, 17, 1000, 300000}) {
    auto x = random_vector(static_cast<size_t>(n), static_cast<uint32_t>(n), -3.0f, 1.5f);
    if (n > 10) x[3] = NAN;
    for (sparq::Isa isa : sparq::available_isas()) {
    std::vector<uint8_t> y(static_cast<size_t>(n));
    float scale;
    uint8_t zp;
    sparq::dynamic_quantize_linear(x.data(), n, y.data(), &scale, &zp, ctx_for(isa, 2));
    float lo = 0, hi = 0;
    for (float v : x)
      if (!std::isnan(v)) lo = std::fmin(lo, v), hi = std::fmax(hi, v);
    const float want_scale = (hi - lo) / 255.0f;
    const float want_zp = std::nearbyint(std::fmin(255.0f, std::fmax(0.0f, -lo / want_scale)));
    CHECK(scale == want_scale && zp == static_cast<uint8_t>(want_zp));
    int bad = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float q = std::isnan(x[i]) ? 0.0f : std::nearbyint(x[i] / want_scale);
      bad += y[i] != static_cast<uint8_t>(std::fmin(255.0f, std::fmax(0.0f, q + want_zp)));
    }
    CHECK_MSG(bad == 0, "n=%lld on %s: %d wrong", (long long)n, sparq::isa_name(isa), bad);
    }
  }
}

TEST(quantize_dequantize_per_tensor_and_per_axis) {
  const int64_t outer = 3, channels = 4, inner = 5;
  auto x = random_vector(static_cast<size_t>(outer * channels * inner), 9, -2, 2);
  x[7] = 0.25f;  // a tie after scaling by 0.5 → 0.5 rounds to even 0
  const std::vector<float> scales{0.5f, 0.01f, 0.02f, 0.03f};
  const std::vector<uint8_t> zu{0, 128, 100, 255};
  const std::vector<int8_t> zs{0, -3, 5, 127};
  std::vector<uint8_t> qu(x.size());
  std::vector<int8_t> qs(x.size());
  sparq::quantize_linear(x.data(), outer, channels, inner, scales.data(), DType::uint8, zu.data(), qu.data());
  sparq::quantize_linear(x.data(), outer, channels, inner, scales.data(), DType::int8, zs.data(), qs.data());
  int bad = 0;
  for (int64_t i = 0; i < static_cast<int64_t>(x.size()); ++i) {
    const int64_t c = (i / inner) % channels;
    const float r = std::nearbyint(x[i] / scales[c]);
    bad += qu[i] != static_cast<uint8_t>(std::fmin(255.f, std::fmax(0.f, r + zu[c])));
    bad += qs[i] != static_cast<int8_t>(std::fmin(127.f, std::fmax(-128.f, r + zs[c])));
  }
  CHECK(bad == 0);
  CHECK(qu[7] == 0 + zu[(7 / inner) % channels] || (7 / inner) % channels != 0);
  std::vector<float> du(x.size()), ds(x.size());
  sparq::dequantize_linear(qu.data(), DType::uint8, outer, channels, inner, scales.data(), zu.data(), du.data());
  sparq::dequantize_linear(qs.data(), DType::int8, outer, channels, inner, scales.data(), zs.data(), ds.data());
  bad = 0;
  for (int64_t i = 0; i < static_cast<int64_t>(x.size()); ++i) {
    const int64_t c = (i / inner) % channels;
    bad += du[i] != static_cast<float>(qu[i] - zu[c]) * scales[c];
    bad += ds[i] != static_cast<float>(qs[i] - zs[c]) * scales[c];
  }
  CHECK(bad == 0);
  // Per tensor (channels = 1), null zero point, int32 input.
  std::vector<int32_t> acc{-5, 0, 7};
  std::vector<float> out(3);
  const float s = 0.25f;
  sparq::dequantize_linear(acc.data(), DType::int32, 3, 1, 1, &s, nullptr, out.data());
  CHECK(out[0] == -1.25f && out[2] == 1.75f);
  const int32_t nz = 1;
  CHECK(error_code([&] { sparq::dequantize_linear(acc.data(), DType::int32, 3, 1, 1, &s, &nz, out.data()); }) == "ERR_INVALID_ARGUMENT");
  CHECK(error_code([&] { sparq::quantize_linear(x.data(), 1, 1, 3, &s, DType::int32, nullptr, out.data()); }) == "ERR_UNSUPPORTED_DTYPE");
}

TEST(quantize_every_isa_matches_scalar_on_ties_nan_and_inf) {
  std::vector<float> x;
  for (int i = -600; i <= 600; ++i) x.push_back(static_cast<float>(i) * 0.25f);  // many exact .5 ties at scale 0.5
  for (float v : {NAN, INFINITY, -INFINITY, 1e30f, -1e30f, -0.0f}) x.push_back(v);
  const int64_t n = static_cast<int64_t>(x.size());
  const float scale = 0.5f;
  const uint8_t zu = 3;
  const int8_t zs = -7;
  std::vector<uint8_t> want_u(x.size());
  std::vector<int8_t> want_s(x.size());
  sparq::quantize_linear(x.data(), 1, 1, n, &scale, DType::uint8, &zu, want_u.data(), ctx_for(sparq::Isa::scalar));
  sparq::quantize_linear(x.data(), 1, 1, n, &scale, DType::int8, &zs, want_s.data(), ctx_for(sparq::Isa::scalar));
  int bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float r = std::isnan(v) ? 0.0f : std::nearbyint(std::fmax(-1e6f, std::fmin(1e6f, v / scale)));
    bad += want_u[i] != static_cast<uint8_t>(std::fmin(255.f, std::fmax(0.f, r + zu)));
    bad += want_s[i] != static_cast<int8_t>(std::fmin(127.f, std::fmax(-128.f, r + zs)));
  }
  CHECK_MSG(bad == 0, "scalar quantize: %d wrong", bad);
  for (sparq::Isa isa : sparq::available_isas()) {
    std::vector<uint8_t> u(x.size());
    std::vector<int8_t> s8(x.size());
    sparq::quantize_linear(x.data(), 1, 1, n, &scale, DType::uint8, &zu, u.data(), ctx_for(isa));
    sparq::quantize_linear(x.data(), 1, 1, n, &scale, DType::int8, &zs, s8.data(), ctx_for(isa));
    CHECK_MSG(u == want_u && s8 == want_s, "%s quantize differs from scalar", sparq::isa_name(isa));
  }
}

namespace {

template <typename A, typename B>
void check_matmul_integer(DType at, DType bt, const Shape& as, const Shape& bs, bool per_row, bool per_col, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> da(std::is_signed<A>::value ? -128 : 0, std::is_signed<A>::value ? 127 : 255);
  std::uniform_int_distribution<int> db(std::is_signed<B>::value ? -128 : 0, std::is_signed<B>::value ? 127 : 255);
  std::vector<A> a(static_cast<size_t>(as.numel()));
  std::vector<B> b(static_cast<size_t>(bs.numel()));
  for (auto& v : a) v = static_cast<A>(da(rng));
  for (auto& v : b) v = static_cast<B>(db(rng));
  const int64_t K = as.dims[as.rank - 1], M = as.rank >= 2 ? as.dims[as.rank - 2] : 1, N = bs.rank >= 2 ? bs.dims[bs.rank - 1] : 1;
  std::vector<A> za(static_cast<size_t>(per_row ? M : 1));
  std::vector<B> zb(static_cast<size_t>(per_col ? N : 1));
  for (auto& v : za) v = static_cast<A>(da(rng));
  for (auto& v : zb) v = static_cast<B>(db(rng));
  const Shape out = sparq::matmul_output_shape(as, bs);
  // Reference: the same products in double through the float GEMM reference on converted operands.
  std::vector<float> af(a.size()), bf(b.size());
  for (size_t i = 0; i < a.size(); ++i) af[i] = static_cast<float>(a[i] - za[per_row ? (i / K) % M : 0]);
  for (size_t i = 0; i < b.size(); ++i) bf[i] = static_cast<float>(b[i] - zb[per_col ? i % N : 0]);
  std::vector<float> want(static_cast<size_t>(out.numel()));
  sparq::matmul_f32(af.data(), as, bf.data(), bs, want.data(), 1);
  for (sparq::Isa isa : sparq::available_isas())
    for (int threads : {1, 2}) {
      std::vector<int32_t> y(want.size(), 12345);
      sparq::matmul_integer(at, a.data(), as, bt, b.data(), bs, za.data(), static_cast<int64_t>(za.size()), zb.data(),
                            static_cast<int64_t>(zb.size()), y.data(), ctx_for(isa, threads));
      int bad = 0;
      for (size_t i = 0; i < y.size(); ++i) bad += static_cast<float>(y[i]) != want[i];
      CHECK_MSG(bad == 0, "MatMulInteger %s x %s on %s: %d wrong", as.str().c_str(), bs.str().c_str(),
                sparq::isa_name(isa), bad);
    }
}

}  // namespace

TEST(matmul_integer_matches_reference) {
  uint32_t seed = 1;
  for (auto [as, bs] : {std::pair<Shape, Shape>{{5, 7}, {7, 9}}, {{1, 33}, {33, 17}}, {{2, 3, 13, 37}, {37, 5}},
                        {{2, 1, 4, 6}, {3, 6, 5}}, {{6}, {6, 4}}, {{64, 128}, {128, 96}}, {{13, 70}, {70, 131}}, {{7, 0}, {0, 5}}}) {
    check_matmul_integer<uint8_t, int8_t>(DType::uint8, DType::int8, as, bs, false, false, seed++);
    check_matmul_integer<uint8_t, uint8_t>(DType::uint8, DType::uint8, as, bs, true, true, seed++);
    check_matmul_integer<int8_t, int8_t>(DType::int8, DType::int8, as, bs, false, true, seed++);
    check_matmul_integer<int8_t, uint8_t>(DType::int8, DType::uint8, as, bs, true, false, seed++);
  }
  std::vector<uint8_t> a(6), b(6);
  std::vector<int32_t> y(4);
  CHECK(error_code([&] { sparq::matmul_integer(DType::float32, a.data(), Shape{2, 3}, DType::uint8, b.data(), Shape{3, 2}, nullptr, 0, nullptr, 0, y.data()); }) ==
        "ERR_UNSUPPORTED_DTYPE");
  CHECK(error_code([&] { sparq::matmul_integer(DType::uint8, a.data(), Shape{2, 3}, DType::uint8, b.data(), Shape{2, 3}, nullptr, 0, nullptr, 0, y.data()); }) ==
        "ERR_SHAPE_MISMATCH");
  CHECK(error_code([&] { sparq::matmul_integer(DType::uint8, a.data(), Shape{2, 3}, DType::uint8, b.data(), Shape{3, 2}, a.data(), 3, nullptr, 0, y.data()); }) ==
        "ERR_INVALID_ARGUMENT");
}

TEST_MAIN()
