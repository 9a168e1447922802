// Weight-only formats "int4" and "int8-wo" (sparq/weight_only.h): every kernel this CPU runs against
// the scalar reference (same bits before the epilogue) on odd shapes with NaN-prefilled outputs, the
// reference against a double-precision evaluation of the documented formula, the activation error
// bound, the quantization rules (bounds, idempotence), the prefill tile path, serialisation, and the
// bytes a 768x3072 layer takes.
#include <cmath>
#include <cstring>
#include <memory>

#include "check.h"
#include "sparq/cpu.h"
#include "sparq/error.h"
#include "sparq/packed.h"
#include "sparq/packed_serialize.h"
#include "sparq/sgemm.h"
#include "sparq/weight_only.h"

using namespace sparq_test;

namespace {

std::vector<const sparq::WoKernels*> runnable_kernels() {
  std::vector<const sparq::WoKernels*> k{&sparq::kWoScalar};
  for (sparq::Isa isa : sparq::available_isas())
    if (isa != sparq::Isa::scalar && sparq::wo_kernels(isa) != k.back()) k.push_back(sparq::wo_kernels(isa));
  return k;
}

struct Acts {
  std::vector<int8_t> q;
  std::vector<float> scale;
  std::vector<float> sum;
  sparq::WoActivations view;
};

Acts quantize_acts(const std::vector<float>& x, int64_t M, int64_t K, const sparq::WoPackedB& b) {
  Acts a;
  const int64_t ldq = b.groups * b.group;
  a.q.assign(static_cast<size_t>(M * ldq), 99);
  a.scale.assign(static_cast<size_t>(M * b.groups), -1.0f);
  a.sum.assign(static_cast<size_t>(M * b.groups), -1.0f);
  sparq::quantize_wo_activations(x.data(), M, K, b.group, b.groups, a.q.data(), a.scale.data(), a.sum.data());
  a.view = {a.q.data(), ldq, a.scale.data(), a.sum.data(), b.groups};
  return a;
}

std::vector<float> run_kernel(const sparq::WoKernels& kern, const sparq::WoPackedB& b, const Acts& a, int M,
                              const sparq::Epilogue& ep) {
  auto y = nan_filled(static_cast<size_t>(M * b.N));
  kern.gemv(b, a.view, M, 0, b.panels, y.data(), b.N, ep);
  return y;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

struct Config {
  int bits;
  int64_t group;
  bool symmetric;
};

std::vector<Config> configs() {
  std::vector<Config> c;
  for (int bits : {4, 8})
    for (int64_t group : {8, 32, 64, 128})
      for (bool sym : {true, false}) c.push_back({bits, group, sym});
  return c;
}

}  // namespace

TEST(kernels_match_the_reference_bit_for_bit_on_odd_shapes) {
  const auto kernels = runnable_kernels();
  std::printf("  kernels:");
  for (auto* k : kernels) std::printf(" %s", k->name);
  std::printf("\n");
  for (const Config& c : configs())
    for (int64_t K : {1, 7, 33, 130, 257})
      for (int64_t N : {1, 5, 16, 17, 45}) {
        auto W = random_vector(static_cast<size_t>(K * N), static_cast<uint32_t>(K * 131 + N), -2.0f, 1.0f);
        sparq::WoPackedB b;
        sparq::pack_wo_weights(W.data(), K, N, c.bits, c.group, c.symmetric, b);
        auto bias = random_vector(static_cast<size_t>(N), 5);
        for (int M = 1; M <= sparq::kWoMaxRows; ++M) {
          auto x = random_vector(static_cast<size_t>(M * K), static_cast<uint32_t>(M + K), -3.0f, 3.0f);
          const Acts a = quantize_acts(x, M, K, b);
          for (auto act : {sparq::Activation::none, sparq::Activation::relu, sparq::Activation::gelu}) {
            const sparq::Epilogue ep{act == sparq::Activation::none ? nullptr : bias.data(), act};
            const auto want = run_kernel(sparq::kWoScalar, b, a, M, ep);
            for (auto* kern : kernels) {
              const auto got = run_kernel(*kern, b, a, M, ep);
              if (act != sparq::Activation::gelu) {
                CHECK_MSG(same_bits(got, want), "%s bits %d group %lld sym %d M %d K %lld N %lld", kern->name, c.bits,
                          static_cast<long long>(c.group), c.symmetric, M, static_cast<long long>(K), static_cast<long long>(N));
              } else {
                double worst = 0;
                for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(double(got[i]) - want[i]) / (1 + std::fabs(want[i])));
                CHECK_MSG(worst < 1e-5, "%s gelu error %g", kern->name, worst);
              }
            }
          }
        }
      }
}

TEST(reference_follows_the_documented_formula_and_the_activation_bound) {
  for (const Config& c : configs()) {
    const int64_t M = 3, K = 203, N = 37;
    auto W = random_vector(static_cast<size_t>(K * N), 17, -1.0f, 1.5f);
    auto x = random_vector(static_cast<size_t>(M * K), 18, -2.0f, 2.0f);
    sparq::WoPackedB b;
    sparq::pack_wo_weights(W.data(), K, N, c.bits, c.group, c.symmetric, b);
    const Acts a = quantize_acts(x, M, K, b);
    const auto y = run_kernel(sparq::kWoScalar, b, a, M, {});
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double formula = 0, exact = 0, bound = 0;
        for (int64_t g = 0; g < b.groups; ++g) {
          double dot = 0, sx = a.scale[m * b.groups + g], absw = 0;
          for (int64_t k = g * c.group; k < std::min(K, (g + 1) * c.group); ++k) {
            dot += double(b.code(k, n) - b.zero_point(k, n)) * a.q[m * a.view.ldq + k];
            exact += double(x[m * K + k]) * b.dequantized(k, n);
            absw += std::fabs(b.dequantized(k, n));
          }
          formula += dot * sx * b.scale(g * c.group, n);
          bound += sx / 2 * absw;
        }
        const double got = y[m * N + n];
        CHECK_MSG(std::fabs(got - formula) <= 1e-5 * (1 + std::fabs(formula)), "formula %g vs %g", got, formula);
        CHECK_MSG(std::fabs(got - exact) <= bound * 1.001 + 1e-5, "exact %g vs %g (bound %g)", got, exact, bound);
      }
  }
}

TEST(quantization_bounds_and_idempotence) {
  for (const Config& c : configs()) {
    const int64_t K = 150, N = 21;
    auto W = random_vector(static_cast<size_t>(K * N), 23, -1.0f, 3.0f);
    for (int64_t k = 0; k < K; ++k) W[k * N + 3] = 0.0f;  // an all-zero column
    sparq::WoPackedB b;
    sparq::pack_wo_weights(W.data(), K, N, c.bits, c.group, c.symmetric, b);
    std::vector<float> deq(static_cast<size_t>(K * N));
    for (int64_t k = 0; k < K; ++k)
      for (int64_t n = 0; n < N; ++n) {
        const float s = std::fabs(b.scale(k, n));
        deq[k * N + n] = b.dequantized(k, n);
        // Within half a step, except where a symmetric int4 group's range was narrowed by the scale
        // search (its extreme clamps at −8, the far side at +7: 8 / f_min − 7 steps at most) and where an
        // asymmetric group's parameters settled on a fixed point a little narrower than its range (its
        // extremes clamp: two steps at most).
        const double sym4 = 8.0 / (1.0 - sparq::kWoClipStep * sparq::kWoClipSteps) - 7.0;
        const double limit = (c.symmetric ? (c.bits == 8 ? 0.5 : sym4) : 2.0) * s * 1.0001 + 1e-12;
        CHECK_MSG(std::fabs(W[k * N + n] - deq[k * N + n]) <= limit, "bits %d group %lld sym %d k %lld n %lld: w %g deq %g scale %g", c.bits, static_cast<long long>(c.group), c.symmetric, static_cast<long long>(k), static_cast<long long>(n), W[k * N + n], deq[k * N + n], s);
        CHECK(b.code(k, n) >= 0 && b.code(k, n) <= b.qmax());
      }
    for (int64_t k = 0; k < K; ++k) CHECK(deq[k * N + 3] == 0.0f);
    sparq::WoPackedB again;
    sparq::pack_wo_weights(deq.data(), K, N, c.bits, c.group, c.symmetric, again);
    bool same = true;
    for (int64_t k = 0; k < K; ++k)
      for (int64_t n = 0; n < N; ++n) same = same && again.dequantized(k, n) == deq[k * N + n];
    CHECK_MSG(same, "re-quantizing bits %d group %lld sym %d changed the weights", c.bits, static_cast<long long>(c.group), c.symmetric);
  }
}

TEST(large_m_tiles_match_fp32_with_the_dequantized_weights) {
  for (int bits : {4, 8})
    for (int64_t M : {65, 100}) {
      const int64_t K = 100, N = 300;
      auto W = random_vector(static_cast<size_t>(K * N), 31);
      auto x = random_vector(static_cast<size_t>(M * K), 32);
      auto bias = random_vector(static_cast<size_t>(N), 33);
      sparq::PackOptions opts;
      opts.numbers["groupSize"] = 32;
      auto packed = sparq::pack_weights(bits == 4 ? "int4" : "int8-wo", W.data(), K, N, opts);
      sparq::WoPackedB b;
      sparq::pack_wo_weights(W.data(), K, N, bits, 32, true, b);
      std::vector<float> deq(static_cast<size_t>(K * N));
      b.dequantize(0, N, deq.data(), N);
      const sparq::Epilogue ep{bias.data(), sparq::Activation::relu};
      std::vector<float> want(static_cast<size_t>(M * N));
      sparq::sgemm_reference(false, false, M, N, K, 1.0f, x.data(), K, deq.data(), N, 0.0f, want.data(), N, &ep);
      auto got = nan_filled(static_cast<size_t>(M * N));
      packed->matmul(x.data(), M, got.data(), ep, 2);
      double worst = 0;
      for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::isnan(got[i]) ? 1e9 : std::fabs(double(got[i]) - want[i]));
      CHECK_MSG(worst < 1e-4, "M %lld bits %d worst %g", static_cast<long long>(M), bits, worst);
    }
}

TEST(decode_through_the_format_matches_the_reference_with_threads) {
  const int64_t K = 768, N = 1000;
  auto W = random_vector(static_cast<size_t>(K * N), 41);
  for (const char* format : {"int4", "int8-wo"}) {
    sparq::PackOptions opts;
    auto packed = sparq::pack_weights(format, W.data(), K, N, opts);
    sparq::WoPackedB b;
    sparq::pack_wo_weights(W.data(), K, N, std::strcmp(format, "int4") == 0 ? 4 : 8, 64, true, b);
    for (int M : {1, 3, 8, 9, 16, 37, 64}) {
      auto x = random_vector(static_cast<size_t>(M * K), 42 + M);
      const Acts a = quantize_acts(x, M, K, b);
      // The reference, 8 rows at a time (prompts of up to 64 rows stream each panel once for all rows).
      auto want = nan_filled(static_cast<size_t>(M * N));
      for (int m0 = 0; m0 < M; m0 += sparq::kWoMaxRows) {
        sparq::WoActivations part = a.view;
        part.q += m0 * a.view.ldq;
        part.scale += m0 * b.groups;
        part.sum += m0 * b.groups;
        sparq::kWoScalar.gemv(b, part, std::min(sparq::kWoMaxRows, M - m0), 0, b.panels, want.data() + m0 * N, N, {});
      }
      for (int threads : {1, 2}) {
        auto got = nan_filled(static_cast<size_t>(M * N));
        packed->matmul(x.data(), M, got.data(), {}, threads);
        CHECK_MSG(same_bits(got, want), "%s M %d threads %d", format, M, threads);
      }
    }
  }
}

TEST(non_finite_weights_and_activations_give_nan_where_they_reach) {
  const int64_t K = 64, N = 20, M = 2;
  auto W = random_vector(static_cast<size_t>(K * N), 51);
  W[5 * N + 7] = std::numeric_limits<float>::quiet_NaN();
  auto x = random_vector(static_cast<size_t>(M * K), 52);
  x[K + 3] = std::numeric_limits<float>::infinity();
  for (const char* format : {"int4", "int8-wo"}) {
    auto packed = sparq::pack_weights(format, W.data(), K, N, {});
    auto y = nan_filled(static_cast<size_t>(M * N));
    packed->matmul(x.data(), M, y.data(), {}, 1);
    for (int64_t n = 0; n < N; ++n) {
      CHECK(std::isnan(y[n]) == (n == 7));
      CHECK(std::isnan(y[N + n]));
    }
  }
}

TEST(serialised_bytes_round_trip_and_damage_is_refused) {
  const int64_t K = 77, N = 33;
  auto W = random_vector(static_cast<size_t>(K * N), 61);
  auto x = random_vector(static_cast<size_t>(2 * K), 62);
  for (const char* format : {"int4", "int8-wo"})
    for (bool sym : {true, false}) {
      sparq::PackOptions opts;
      opts.numbers["groupSize"] = 32;
      opts.numbers["symmetric"] = sym ? 1 : 0;
      auto packed = sparq::pack_weights(format, W.data(), K, N, opts);
      std::vector<uint8_t> bytes;
      CHECK(packed->serialize(bytes));
      auto back = sparq::unpack_weights(format, bytes.data(), bytes.size(), K, N);
      auto y1 = nan_filled(static_cast<size_t>(2 * N)), y2 = nan_filled(static_cast<size_t>(2 * N));
      packed->matmul(x.data(), 2, y1.data(), {}, 1);
      back->matmul(x.data(), 2, y2.data(), {}, 1);
      CHECK(same_bits(y1, y2));
      auto refused = [&](std::vector<uint8_t> b, int64_t k, int64_t n) {
        try {
          sparq::unpack_weights(format, b.data(), b.size(), k, n);
        } catch (const sparq::Error& e) {
          return std::string(e.code()) == "ERR_INVALID_MODEL";
        }
        return false;
      };
      CHECK(refused(std::vector<uint8_t>(bytes.begin(), bytes.end() - 1), K, N));
      CHECK(refused(bytes, K + 40, N));
      auto bad = bytes;
      bad[0] ^= 1;
      CHECK(refused(bad, K, N));
      bad = bytes;
      bad[16] = 3;  // group 3
      CHECK(refused(bad, K, N));
      if (!sym) {
        bad = bytes;
        bad.back() = 255;  // the last zero point
        CHECK(refused(bad, K, N) == (std::strcmp(format, "int4") == 0));
      }
    }
}

TEST(bad_options_throw) {
  std::vector<float> W(64, 1.0f);
  for (double group : {0.0, 12.0, 5.0, 8192.0, 1.5}) {
    sparq::PackOptions opts;
    opts.numbers["groupSize"] = group;
    bool threw = false;
    try {
      sparq::pack_weights("int4", W.data(), 8, 8, opts);
    } catch (const sparq::Error&) {
      threw = true;
    }
    CHECK_MSG(threw, "groupSize %g", group);
  }
}

TEST(int4_of_a_768x3072_layer_takes_at_most_0_14x_of_fp32_from_group_64) {
  const int64_t K = 768, N = 3072;
  auto W = random_vector(static_cast<size_t>(K * N), 71);
  for (int64_t group : {32, 64, 128})
    for (bool sym : {true, false}) {
      sparq::WoPackedB b;
      sparq::pack_wo_weights(W.data(), K, N, 4, group, sym, b);
      const double ratio = double(b.bytes()) / (4.0 * K * N);
      std::printf("  int4 group %lld %s: %.4fx fp32 bytes\n", static_cast<long long>(group), sym ? "symmetric" : "asymmetric", ratio);
      if (group >= 64) CHECK(ratio <= 0.14);
    }
}

TEST_MAIN()
