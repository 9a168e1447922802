// int8 GEMM: every kernel's s32 accumulators equal the exact integer reference bit for bit; the
// "int8" format's fp32 outputs stay within the documented quantization bound of the fp32 product;
// odd shapes, NaN-prefilled outputs, non-finite input, zero rows/columns, threads.
#include <algorithm>
#include <cstring>
#include <limits>

#include "kernel_testing.h"
#include "sparq/error.h"
#include "sparq/int8_gemm.h"
#include "sparq/quantize.h"

using namespace sparq_test;

namespace {

struct QuantA {
  int64_t lda;
  std::vector<uint8_t> q;
  std::vector<float> scale;
  std::vector<int32_t> zp;
};

QuantA quantize(const std::vector<float>& x, int64_t M, int64_t K) {
  QuantA a{sparq::int8_a_stride(K), {}, std::vector<float>(static_cast<size_t>(M)), std::vector<int32_t>(static_cast<size_t>(M))};
  a.q.assign(static_cast<size_t>(M * a.lda), 0);
  sparq::quantize_rows_u8(sparq::Isa::scalar, x.data(), M, K, a.lda, a.q.data(), a.scale.data(), a.zp.data(), false);
  return a;
}

// The exact integer product on unpacked codes: the oracle of every tile.
std::vector<int32_t> naive_acc(const QuantA& a, const sparq::Int8PackedB& b, int64_t M) {
  std::vector<int32_t> acc(static_cast<size_t>(M * b.N));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < b.N; ++n) {
      int64_t s = 0;
      for (int64_t k = 0; k < b.K; ++k) s += int64_t{a.q[static_cast<size_t>(m * a.lda + k)]} * b.at(k, n);
      acc[static_cast<size_t>(m * b.N + n)] = static_cast<int32_t>(s);
    }
  return acc;
}

std::vector<int32_t> kernel_acc(const sparq::Int8GemmKernels& k, const sparq::Int8PackedB& b, const QuantA& a, int64_t M,
                                int threads, int64_t kc = 0) {
  std::vector<int32_t> acc(static_cast<size_t>(M * b.N), std::numeric_limits<int32_t>::min());
  sparq::int8_gemm(k, b, sparq::Int8QuantizedA{a.q.data(), a.lda, a.scale.data(), a.zp.data()}, M, nullptr,
                   sparq::Epilogue{}, threads, acc.data(), kc);
  return acc;
}

std::vector<float> kernel_y(const sparq::Int8GemmKernels& k, const sparq::Int8PackedB& b, const QuantA& a, int64_t M,
                            const sparq::Epilogue& ep, int threads, int64_t kc) {
  auto y = nan_filled(static_cast<size_t>(M * b.N));
  sparq::int8_gemm(k, b, sparq::Int8QuantizedA{a.q.data(), a.lda, a.scale.data(), a.zp.data()}, M, y.data(), ep, threads,
                   nullptr, kc);
  return y;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::vector<Shape> int8_shapes() {
  auto s = odd_shapes();
  s.push_back({12, 4, 32});
  s.push_back({24, 64, 64});
  s.push_back({1, 768, 96});
  s.push_back({3, 2, 1});
  s.push_back({14, 2053, 45});  // K blocked: partial sums carried between blocks
  s.push_back({26, 4100, 40});  // long K: A packed per tile for the AVX-512 kernel
  s.push_back({31, 4097, 17});  // packed A: a 7-row tile (4x4 blocks + 3 rows), quads past the blocks
  return s;
}

}  // namespace

TEST(int8_accumulators_exactly_equal_the_reference_on_every_kernel) {
  uint32_t seed = 1;
  for (const Shape& s : int8_shapes()) {
    auto W = random_vector(static_cast<size_t>(s.K * s.N), seed++);
    auto x = random_vector(static_cast<size_t>(s.M * s.K), seed++, -2.0f, 3.0f);
    const QuantA a = quantize(x, s.M, s.K);
    for (const auto* k : sparq::int8_gemm_runnable_kernels()) {
      sparq::Int8PackedB b;
      sparq::pack_int8_weights(W.data(), s.K, s.N, true, k->nr / 16, k->weight_max, b);
      const auto want = naive_acc(a, b, s.M);
      for (int threads : {1, 2})
        for (int64_t kc : {0, 12, 64}) {  // 0: the driver's choice; else forced K blocks (partial sums in y)
          CHECK_MSG(kernel_acc(*k, b, a, s.M, threads, kc) == want, "%s M=%lld K=%lld N=%lld threads=%d kc=%lld",
                    k->name, (long long)s.M, (long long)s.K, (long long)s.N, threads, (long long)kc);
        }
      // fp32 outputs through the blocked path (partials parked in y, epilogue on the last block) are
      // bit-identical to the unblocked ones
      if (s.K > 64) {
        auto bias = random_vector(static_cast<size_t>(s.N), seed);
        const sparq::Epilogue ep{bias.data(), sparq::Activation::gelu};
        CHECK_MSG(same_bits(kernel_y(*k, b, a, s.M, ep, 2, 64), kernel_y(*k, b, a, s.M, ep, 1, 100000)), "%s blocked y",
                  k->name);
      }
      // the scalar reference tile on the very bytes this kernel reads
      CHECK_MSG(kernel_acc(sparq::kInt8GemmScalar, b, a, s.M, 1) == want, "scalar on %s packing", k->name);
    }
  }
}

TEST(int8_accumulators_at_the_extremes_never_saturate) {
  // a = 255 everywhere, weights at ±weight_max: the largest pair sums vpmaddubsw can see.
  const int64_t M = 13, K = 4099, N = 37;
  std::vector<float> W(static_cast<size_t>(K * N));
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) W[static_cast<size_t>(k * N + n)] = (n % 3 == 0) ? -1.0f : ((k + n) % 2 ? 1.0f : -1.0f);
  QuantA a{sparq::int8_a_stride(K), std::vector<uint8_t>(static_cast<size_t>(M * sparq::int8_a_stride(K)), 255),
           std::vector<float>(M, 1.0f), std::vector<int32_t>(M, 0)};
  for (const auto* k : sparq::int8_gemm_runnable_kernels()) {
    sparq::Int8PackedB b;
    sparq::pack_int8_weights(W.data(), K, N, true, k->nr / 16, k->weight_max, b);
    CHECK(b.at(0, 0) == -k->weight_max);
    CHECK_MSG(kernel_acc(*k, b, a, M, 1) == naive_acc(a, b, M), "%s", k->name);
  }
}

TEST(int8_format_within_the_quantization_bound_of_the_fp32_product) {
  uint32_t seed = 500;
  for (const Shape& s : int8_shapes()) {
    auto W = random_vector(static_cast<size_t>(s.K * s.N), seed++);
    auto x = random_vector(static_cast<size_t>(s.M * s.K), seed++, -1.5f, 1.0f);
    auto bias = random_vector(static_cast<size_t>(s.N), seed++);
    const QuantA a = quantize(x, s.M, s.K);
    const auto scale = error_scale(x, s.M, s.K, W, s.N, bias.data());
    for (bool per_channel : {true, false}) {
      for (sparq::Isa isa : sparq::available_isas()) {
        sparq::PackOptions opts;
        opts.strings["isa"] = sparq::isa_name(isa);
        opts.numbers["perChannel"] = per_channel ? 1 : 0;
        auto packed = sparq::pack_weights("int8", W.data(), s.K, s.N, opts);
        const int wm = sparq::int8_gemm_kernels(isa)->weight_max;
        // weight scales as documented
        std::vector<double> sb(static_cast<size_t>(s.N)), colabs(static_cast<size_t>(s.N)), rowabs(static_cast<size_t>(s.M));
        double all = 0;
        for (int64_t n = 0; n < s.N; ++n) {
          double mx = 0;
          for (int64_t k = 0; k < s.K; ++k) {
            mx = std::max(mx, std::fabs(double{W[static_cast<size_t>(k * s.N + n)]}));
            colabs[n] += std::fabs(W[static_cast<size_t>(k * s.N + n)]);
          }
          sb[n] = mx / wm;
          all = std::max(all, mx);
        }
        if (!per_channel) std::fill(sb.begin(), sb.end(), all / wm);
        for (int64_t m = 0; m < s.M; ++m)
          for (int64_t k = 0; k < s.K; ++k) rowabs[m] += std::fabs(x[static_cast<size_t>(m * s.K + k)]);
        for (auto act : {sparq::Activation::none, sparq::Activation::relu, sparq::Activation::gelu}) {
          sparq::Epilogue ep{bias.data(), act};
          std::vector<float> want(static_cast<size_t>(s.M * s.N));
          sparq::gemm_f32_reference(x.data(), s.M, s.K, W.data(), s.N, want.data(), ep);
          for (int threads : {1, 2}) {
            auto got = nan_filled(want.size());
            packed->matmul(x.data(), s.M, got.data(), ep, threads);
            double worst = 0;
            for (int64_t m = 0; m < s.M; ++m)
              for (int64_t n = 0; n < s.N; ++n) {
                const size_t i = static_cast<size_t>(m * s.N + n);
                const double sa = a.scale[m];
                // gelu is 1.13-Lipschitz; 1e-5 of the magnitude covers fp32 rounding and the erf approximation
                const double bound = (act == sparq::Activation::gelu ? 1.13 : 1.0) *
                                         (sa / 2 * colabs[n] + sb[n] / 2 * rowabs[m] + s.K * sa * sb[n] / 4) * 1.0001 +
                                     1e-5 * scale[i];
                const double err = std::isnan(got[i]) ? INFINITY : std::fabs(double{got[i]} - want[i]);
                worst = std::max(worst, err / bound);
              }
            CHECK_MSG(worst <= 1.0, "%s perChannel=%d M=%lld K=%lld N=%lld act=%d threads=%d: %.3g x the bound",
                      sparq::isa_name(isa), (int)per_channel, (long long)s.M, (long long)s.K, (long long)s.N, (int)act,
                      threads, worst);
          }
        }
      }
    }
  }
}

TEST(int8_non_finite_inputs_give_nan_rows_and_columns) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const int64_t M = 5, K = 37, N = 35;
  auto W = random_vector(static_cast<size_t>(K * N), 3);
  auto x = random_vector(static_cast<size_t>(M * K), 4);
  W[static_cast<size_t>(7 * N + 2)] = inf;    // column 2
  W[static_cast<size_t>(36 * N + 33)] = nan;  // column 33 (the edge panel)
  x[static_cast<size_t>(1 * K + 36)] = -inf;  // row 1
  x[static_cast<size_t>(3 * K + 0)] = nan;    // row 3
  for (sparq::Isa isa : sparq::available_isas()) {
    for (bool per_channel : {true, false}) {
      sparq::PackOptions opts;
      opts.strings["isa"] = sparq::isa_name(isa);
      opts.numbers["perChannel"] = per_channel ? 1 : 0;
      auto packed = sparq::pack_weights("int8", W.data(), K, N, opts);
      for (auto act : {sparq::Activation::none, sparq::Activation::relu, sparq::Activation::gelu}) {
        auto y = nan_filled(static_cast<size_t>(M * N));
        std::fill(y.begin(), y.end(), 12345.0f);
        packed->matmul(x.data(), M, y.data(), sparq::Epilogue{nullptr, act}, 1);
        for (int64_t m = 0; m < M; ++m)
          for (int64_t n = 0; n < N; ++n) {
            const bool bad = !per_channel || m == 1 || m == 3 || n == 2 || n == 33;
            const float v = y[static_cast<size_t>(m * N + n)];
            CHECK_MSG(bad ? std::isnan(v) : std::isfinite(v), "%s perChannel=%d m=%lld n=%lld: %g", sparq::isa_name(isa),
                      (int)per_channel, (long long)m, (long long)n, v);
          }
      }
    }
  }
}

TEST(int8_zero_rows_and_columns_give_exactly_the_bias) {
  const int64_t M = 4, K = 21, N = 19;
  auto W = random_vector(static_cast<size_t>(K * N), 8);
  auto x = random_vector(static_cast<size_t>(M * K), 9);
  auto bias = random_vector(static_cast<size_t>(N), 10);
  for (int64_t k = 0; k < K; ++k) W[static_cast<size_t>(k * N + 5)] = 0.0f;
  for (int64_t k = 0; k < K; ++k) x[static_cast<size_t>(2 * K + k)] = 0.0f;
  for (sparq::Isa isa : sparq::available_isas()) {
    sparq::PackOptions opts;
    opts.strings["isa"] = sparq::isa_name(isa);
    auto packed = sparq::pack_weights("int8", W.data(), K, N, opts);
    auto y = nan_filled(static_cast<size_t>(M * N));
    packed->matmul(x.data(), M, y.data(), sparq::Epilogue{bias.data(), sparq::Activation::none}, 1);
    for (int64_t n = 0; n < N; ++n) CHECK(y[static_cast<size_t>(2 * N + n)] == bias[n]);
    for (int64_t m = 0; m < M; ++m) CHECK(y[static_cast<size_t>(m * N + 5)] == bias[5]);
    // an all-zero W: every output is the bias
    std::vector<float> Z(static_cast<size_t>(K * N), 0.0f);
    auto zp = sparq::pack_weights("int8", Z.data(), K, N, opts);
    zp->matmul(x.data(), M, y.data(), sparq::Epilogue{bias.data(), sparq::Activation::none}, 1);
    for (int64_t i = 0; i < M * N; ++i) CHECK(y[static_cast<size_t>(i)] == bias[static_cast<size_t>(i % N)]);
  }
}

TEST(int8_reports_bytes_and_quantization_error) {
  const int64_t K = 768, N = 3072;
  auto W = random_vector(static_cast<size_t>(K * N), 12);
  for (sparq::Isa isa : sparq::available_isas()) {
    sparq::PackOptions opts;
    opts.strings["isa"] = sparq::isa_name(isa);
    auto packed = sparq::pack_weights("int8", W.data(), K, N, opts);
    CHECK(std::string(packed->format()) == "int8");
    CHECK(packed->bytes() >= static_cast<size_t>(K * N) && packed->bytes() < static_cast<size_t>(K * N) * 102 / 100);
    std::vector<sparq::InfoEntry> info;
    packed->describe(info);
    double rel = -1, maxabs = -1, bits = 0;
    for (auto& e : info) {
      if (e.key == "weightRelRmsError") rel = e.number;
      if (e.key == "weightMaxAbsError") maxabs = e.number;
      if (e.key == "weightBits") bits = e.number;
    }
    // uniform weights in [-1, 1]: step 1/127 (or 1/63), error uniform in ±step/2 -> rms step/sqrt(12),
    // relative to the weights' rms 1/sqrt(3): step/2
    const double step = 1.0 / (bits == 8 ? 127 : 63);
    CHECK_MSG(maxabs > 0 && maxabs <= step / 2 * 1.001, "max abs %g", maxabs);
    CHECK_MSG(rel > 0.4 * step && rel < 0.6 * step, "rel rms %g (step %g)", rel, step);
  }
}

TEST(int8_rejects_k_beyond_exact_accumulation) {
  bool threw = false;
  try {
    std::vector<float> W(static_cast<size_t>(sparq::kInt8MaxK + 1), 1.0f);
    sparq::pack_weights("int8", W.data(), sparq::kInt8MaxK + 1, 1, sparq::PackOptions{});
  } catch (const sparq::Error& e) {
    threw = e.code() == "ERR_INVALID_ARGUMENT";
  }
  CHECK(threw);
}

TEST_MAIN()
