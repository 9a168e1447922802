// Dense fp32 GEMM: every ISA variant against the double-accumulation reference on odd shapes.
#include <cmath>

#include "kernel_testing.h"
#include "sparq/error.h"
#include "sparq/threadpool.h"

using namespace sparq_test;

TEST(dense_matches_reference_on_odd_shapes) {
  uint32_t seed = 1;
  for (const Shape& s : odd_shapes()) {
    auto W = random_vector(static_cast<size_t>(s.K * s.N), seed);
    check_format_against_reference("dense", W, s, 1e-5, seed);
    seed += 7;
  }
}

TEST(dense_matches_reference_multithreaded) {
  for (const Shape& s : {Shape{64, 512, 300}, Shape{1, 700, 900}, Shape{129, 1030, 65}}) {
    auto W = random_vector(static_cast<size_t>(s.K * s.N), 5);
    check_format_against_reference("dense", W, s, 1e-5, 9, 4);
  }
  // Narrow layers split along M as well (items of one panel and a run of M tiles), with K in blocks,
  // a short last tile and a short last panel: LeNet-300-100's layers at batch 256, and odd ones.
  // A read in place (K = 784, 1000) and packed where its rows would alias in L1 (K = 512, 768, 1024, 3072).
  for (const Shape& s : {Shape{256, 784, 300}, Shape{256, 300, 100}, Shape{256, 100, 10}, Shape{37, 1030, 45}, Shape{13, 64, 33},
                         Shape{40, 1000, 70}, Shape{40, 1024, 70}, Shape{29, 512, 40}, Shape{31, 768, 50}, Shape{25, 3072, 33}}) {
    auto W = random_vector(static_cast<size_t>(s.K * s.N), 11);
    check_format_against_reference("dense", W, s, 1e-5, 13, 2);
  }
}

// M just past the tile's rows (13-16 = 12 + a short tile on AVX-512), A in place or packed (K = 1024),
// K in one block and in several, N with a short half-panel and a short last panel.
TEST(dense_small_batches_match_reference) {
  uint32_t seed = 21;
  for (int64_t M : {13, 14, 15, 16})
    for (int64_t K : {7, 300, 784, 1024, 1030})
      for (int64_t N : {5, 16, 20, 33, 100, 300}) {
        auto W = random_vector(static_cast<size_t>(K * N), seed);
        check_format_against_reference("dense", W, Shape{M, K, N}, 1e-5, seed, M % 2 == 0 ? 2 : 1);
        seed += 3;
      }
}

TEST(gelu_matches_erf_definition) {
  // Vectorised GELU vs the std::erf definition across the range, through a K = 1 identity matmul.
  const int64_t n = 4001;
  std::vector<float> W(static_cast<size_t>(n), 0.0f);
  std::vector<float> x(1, 1.0f);
  std::vector<float> bias(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) bias[j] = -10.0f + 20.0f * static_cast<float>(j) / (n - 1);
  for (sparq::Isa isa : sparq::available_isas()) {
    sparq::PackOptions opts;
    opts.strings["isa"] = sparq::isa_name(isa);
    auto packed = sparq::pack_weights("dense", W.data(), 1, n, opts);
    auto y = nan_filled(static_cast<size_t>(n));
    packed->matmul(x.data(), 1, y.data(), {bias.data(), sparq::Activation::gelu}, 1);
    double worst = 0;
    for (int64_t j = 0; j < n; ++j) {
      const double v = bias[j];
      const double want = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
      worst = std::fmax(worst, std::fabs(y[j] - want) / std::fmax(1.0, std::fabs(want)));
    }
    CHECK_MSG(worst < 2e-6, "%s gelu error %g", sparq::isa_name(isa), worst);
  }
}

TEST(pack_rejects_bad_arguments) {
  std::vector<float> W(12, 1.0f);
  auto throws_code = [&](const std::string& fmt, int64_t K, int64_t N, const char* code) {
    try {
      sparq::pack_weights(fmt, W.data(), K, N, {});
    } catch (const sparq::Error& e) {
      return e.code() == code;
    }
    return false;
  };
  CHECK(throws_code("dense", 0, 3, "ERR_INVALID_ARGUMENT"));
  CHECK(throws_code("dense", 3, -1, "ERR_INVALID_ARGUMENT"));
  CHECK(throws_code("nope", 3, 4, "ERR_INVALID_ARGUMENT"));
}

TEST(nan_and_inf_propagate) {
  const int64_t M = 3, K = 5, N = 20;
  auto W = random_vector(K * N, 3);
  auto x = random_vector(M * K, 4);
  x[0] = NAN;                       // row 0 all NaN
  x[K + 1] = INFINITY;              // row 1 ±Inf (or NaN where Inf·0 meets)
  for (sparq::Isa isa : sparq::available_isas()) {
    sparq::PackOptions opts;
    opts.strings["isa"] = sparq::isa_name(isa);
    auto packed = sparq::pack_weights("dense", W.data(), K, N, opts);
    std::vector<float> y(M * N), want(M * N);
    packed->matmul(x.data(), M, y.data(), {nullptr, sparq::Activation::relu}, 1);
    sparq::gemm_f32_reference(x.data(), M, K, W.data(), N, want.data(), {nullptr, sparq::Activation::relu});
    for (int64_t j = 0; j < N; ++j) CHECK(std::isnan(y[j]));
    for (int64_t j = 0; j < N; ++j) CHECK(std::isnan(y[N + j]) == std::isnan(want[N + j]) && (std::isnan(y[N + j]) || y[N + j] == want[N + j]));
  }
}

TEST(thread_pool_covers_range_once_and_rethrows) {
  auto& pool = sparq::ThreadPool::global();
  std::vector<int> hits(1000, 0);
  pool.parallel_for(1000, 0, 7, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) hits[i]++;
  });
  bool all_once = true;
  for (int h : hits) all_once = all_once && h == 1;
  CHECK(all_once);
  bool caught = false;
  try {
    pool.parallel_for(100, 0, 1, [&](int64_t b, int64_t) {
      if (b == 50) throw sparq::Error("ERR_TEST", "boom");
    });
  } catch (const sparq::Error& e) {
    caught = e.code() == "ERR_TEST";
  }
  CHECK(caught);
}

TEST_MAIN()
