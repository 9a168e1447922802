// u8 activation quantization (sparq/quantize.h): every implementation matches the scalar one byte
// for byte, the documented formulas hold, and non-finite input gives NaN scales, never UB.
#include <cstring>
#include <limits>

#include "check.h"
#include "sparq/error.h"
#include "sparq/quantize.h"

using namespace sparq_test;

namespace {

struct Quantized {
  std::vector<uint8_t> q;
  std::vector<float> scales;
  std::vector<int32_t> zps;
};

Quantized run(sparq::Isa isa, const std::vector<float>& x, int64_t M, int64_t K, int64_t kp, bool per_tensor) {
  Quantized r{std::vector<uint8_t>(static_cast<size_t>(M * kp), 0xAB), std::vector<float>(static_cast<size_t>(M), -7.0f),
              std::vector<int32_t>(static_cast<size_t>(M), -7)};
  sparq::quantize_rows_u8(isa, x.data(), M, K, kp, r.q.data(), r.scales.data(), r.zps.data(), per_tensor);
  return r;
}

bool same(const Quantized& a, const Quantized& b) {
  if (a.q != b.q || a.zps != b.zps) return false;
  for (size_t i = 0; i < a.scales.size(); ++i)
    if (std::memcmp(&a.scales[i], &b.scales[i], sizeof(float)) != 0) return false;
  return true;
}

}  // namespace

TEST(quantize_matches_formulas_and_dequantizes_within_half_a_step) {
  for (int64_t K : {1, 3, 4, 15, 16, 17, 100, 1029}) {
    const int64_t M = 5, kp = (K + 3) / 4 * 4 + 4;
    auto x = random_vector(static_cast<size_t>(M * K), 11 + static_cast<uint32_t>(K), -3.0f, 2.0f);
    for (int64_t k = 0; k < K; ++k) x[static_cast<size_t>(K + k)] = 0.0f;                       // row 1: zeros
    for (int64_t k = 0; k < K; ++k) x[static_cast<size_t>(2 * K + k)] = 0.5f + 0.001f * k;     // row 2: all positive
    for (bool per_tensor : {false, true}) {
      auto r = run(sparq::Isa::scalar, x, M, K, kp, per_tensor);
      for (int64_t m = 0; m < M; ++m) {
        const float s = r.scales[m];
        const int32_t zp = r.zps[m];
        CHECK(s > 0.0f && zp >= 0 && zp <= 255);
        if (per_tensor) CHECK(s == r.scales[0] && zp == r.zps[0]);
        for (int64_t k = 0; k < K; ++k) {
          const float v = x[static_cast<size_t>(m * K + k)];
          const float back = s * static_cast<float>(r.q[static_cast<size_t>(m * kp + k)] - zp);
          CHECK_MSG(std::fabs(back - v) <= 0.5f * s * 1.0001f, "K=%lld m=%lld k=%lld %g vs %g", (long long)K, (long long)m,
                    (long long)k, back, v);
        }
        for (int64_t k = K; k < kp; ++k) CHECK(r.q[static_cast<size_t>(m * kp + k)] == zp);  // padding = code of 0.0
      }
      // all-zero row (per row): scale 1, zero point 0, codes 0
      if (!per_tensor) CHECK(r.scales[1] == 1.0f && r.zps[1] == 0 && r.q[static_cast<size_t>(kp)] == 0);
      // all-positive row: zero point 0 (0.0 is the lower end)
      if (!per_tensor) CHECK(r.zps[2] == 0);
    }
  }
}

TEST(quantize_every_isa_matches_scalar_bit_for_bit) {
  uint32_t seed = 100;
  for (int64_t M : {1, 2, 7})
    for (int64_t K : {1, 5, 16, 31, 33, 64, 777})
      for (bool per_tensor : {false, true}) {
        const int64_t kp = (K + 3) / 4 * 4;
        auto x = random_vector(static_cast<size_t>(M * K), seed++, -5.0f, 5.0f);
        // exact ties: values that land on .5 steps
        if (K >= 4) x[1] = 0.0f, x[2] = -5.0f, x[3] = 5.0f;
        auto want = run(sparq::Isa::scalar, x, M, K, kp, per_tensor);
        for (sparq::Isa isa : sparq::available_isas()) {
          auto got = run(isa, x, M, K, kp, per_tensor);
          CHECK_MSG(same(got, want), "%s M=%lld K=%lld per_tensor=%d", sparq::isa_name(isa), (long long)M, (long long)K,
                    (int)per_tensor);
        }
      }
}

TEST(quantize_non_finite_rows_get_nan_scale_and_zero_codes) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const int64_t M = 4, K = 37, kp = 40;
  auto x = random_vector(static_cast<size_t>(M * K), 5);
  x[static_cast<size_t>(K + 3)] = nan;
  x[static_cast<size_t>(2 * K + 36)] = inf;   // in the masked tail of the SIMD loop
  x[static_cast<size_t>(3 * K + 0)] = -inf;
  for (sparq::Isa isa : sparq::available_isas()) {
    auto r = run(isa, x, M, K, kp, false);
    CHECK(std::isfinite(r.scales[0]) && r.scales[0] > 0.0f);
    for (int64_t m = 1; m < M; ++m) {
      CHECK_MSG(std::isnan(r.scales[m]) && r.zps[m] == 0, "%s row %lld", sparq::isa_name(isa), (long long)m);
      for (int64_t k = 0; k < kp; ++k) CHECK(r.q[static_cast<size_t>(m * kp + k)] == 0);
    }
    auto t = run(isa, x, M, K, kp, true);
    for (int64_t m = 0; m < M; ++m) CHECK(std::isnan(t.scales[m]) && t.zps[m] == 0);
  }
}

// The SIMD range comes from integer maxima over the float bits: every special value, at every position
// of a row (the 64-wide loop, the 16-wide loop, the masked tail), must give the scalar result.
TEST(quantize_special_values_match_scalar_everywhere) {
  const float inf = std::numeric_limits<float>::infinity(), big = std::numeric_limits<float>::max();
  const float specials[] = {-0.0f, inf, -inf, std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::signaling_NaN(), big, -big, std::numeric_limits<float>::denorm_min(),
                            -std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::min(), 1e-30f};
  const int64_t K = 101, kp = 104;  // 64 + 32 + 5: every loop of the AVX-512 stats
  for (float special : specials)
    for (int64_t at : {0, 37, 63, 64, 80, 95, 96, 100}) {
      for (float base : {1.0f, -1.0f, 0.0f}) {  // mixed, all-negative, all-zero rows around the special value
        std::vector<float> x = random_vector(static_cast<size_t>(K), 7 + static_cast<uint32_t>(at), -2.0f, 2.0f);
        if (base != 0.0f)
          for (float& v : x) v = base * std::fabs(v);
        else
          std::fill(x.begin(), x.end(), 0.0f);
        x[static_cast<size_t>(at)] = special;
        auto want = run(sparq::Isa::scalar, x, 1, K, kp, false);
        for (sparq::Isa isa : sparq::available_isas()) {
          auto got = run(isa, x, 1, K, kp, false);
          CHECK_MSG(same(got, want), "%s special %g at %lld, base %g", sparq::isa_name(isa), special, (long long)at, base);
        }
      }
    }
}

TEST(quantize_extreme_finite_ranges) {
  const float big = std::numeric_limits<float>::max(), tiny = std::numeric_limits<float>::denorm_min();
  const int64_t K = 5, kp = 8;
  std::vector<float> x = {big, -big, 0.0f, big / 2, 1.0f,   // range overflows fp32, not double
                          tiny, 0.0f, tiny, 0.0f, tiny};    // scale underflows to 0: stored as zeros
  for (sparq::Isa isa : sparq::available_isas()) {
    auto r = run(isa, x, 2, K, kp, false);
    CHECK(std::isfinite(r.scales[0]) && r.scales[0] > 0.0f);
    CHECK(r.q[0] == 255 && r.q[1] == 0);
    CHECK(r.scales[1] == 1.0f && r.zps[1] == 0);
    for (int64_t k = 0; k < kp; ++k) CHECK(r.q[static_cast<size_t>(kp + k)] == 0);
  }
}

TEST(quantize_rejects_bad_shapes) {
  std::vector<float> x(4);
  std::vector<uint8_t> q(4);
  float s;
  int32_t z;
  bool threw = false;
  try {
    sparq::quantize_rows_u8(x.data(), 1, 4, 3, q.data(), &s, &z);
  } catch (const sparq::Error& e) {
    threw = e.code() == "ERR_INVALID_ARGUMENT";
  }
  CHECK(threw);
}

TEST_MAIN()
