// Packing from compressed sparse columns (sparq/packed.h pack_weights_csc): 'sparse-int8' (its own
// O(nonzeros) packer) and a format without one (densified) give weights that compute bit-identical
// outputs to packing the dense W, on every ISA the CPU has; bad pointers and row indices are refused.
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "kernel_testing.h"
#include "sparq/cpu.h"
#include "sparq/error.h"
#include "sparq/packed.h"

using namespace sparq_test;

namespace {

struct Csc {
  std::vector<int32_t> ptr, rows;
  std::vector<float> values;
  sparq::CscMatrix view() const { return {ptr.data(), rows.data(), values.data()}; }
  int64_t nnz() const { return static_cast<int64_t>(rows.size()); }
};

Csc csc_of(const std::vector<float>& W, int64_t K, int64_t N) {
  Csc c;
  c.ptr.push_back(0);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t k = 0; k < K; ++k)
      if (W[static_cast<size_t>(k * N + n)] != 0.0f) {
        c.rows.push_back(static_cast<int32_t>(k));
        c.values.push_back(W[static_cast<size_t>(k * N + n)]);
      }
    c.ptr.push_back(static_cast<int32_t>(c.rows.size()));
  }
  return c;
}

std::vector<float> pruned(int64_t K, int64_t N, double sparsity, bool blocks, uint32_t seed) {
  auto W = random_vector(static_cast<size_t>(K * N), seed);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  for (int64_t k0 = 0; k0 < K; k0 += blocks ? 4 : 1)
    for (int64_t n = 0; n < N; ++n)
      if (u(rng) < sparsity)
        for (int64_t k = k0; k < std::min(K, k0 + (blocks ? 4 : 1)); ++k) W[static_cast<size_t>(k * N + n)] = 0.0f;
  return W;
}

bool refused(const std::string& format, const sparq::CscMatrix& m, int64_t nnz, int64_t K, int64_t N) {
  try {
    sparq::pack_weights_csc(format, m, nnz, K, N, sparq::PackOptions{});
  } catch (const sparq::Error&) {
    return true;
  }
  return false;
}

}  // namespace

TEST(sparse_int8_from_csc_matches_dense_packing) {
  for (const char* isa_name : {"scalar", "avx2", "avx512"}) {
    sparq::Isa isa;
    if (!sparq::parse_isa(isa_name, &isa) || !sparq::isa_supported(isa)) continue;
    for (auto [K, N] : {std::pair<int64_t, int64_t>{37, 5}, {784, 300}, {257, 33}, {1, 1}, {300, 100}})
      for (double sparsity : {0.0, 0.5, 0.92, 1.0})
        for (bool blocks : {false, true})
          for (double per_channel : {1.0, 0.0}) {
            auto W = pruned(K, N, sparsity, blocks, static_cast<uint32_t>(K * 31 + N));
            sparq::PackOptions opts;
            opts.strings["isa"] = isa_name;
            opts.numbers["perChannel"] = per_channel;
            auto dense = sparq::pack_weights("sparse-int8", W.data(), K, N, opts);
            Csc c = csc_of(W, K, N);
            auto fromCsc = sparq::pack_weights_csc("sparse-int8", c.view(), c.nnz(), K, N, opts);
            std::vector<sparq::InfoEntry> a, b;
            dense->describe(a);
            fromCsc->describe(b);
            CHECK(a.size() == b.size());
            // Equal facts; the RMS error statistic only to rounding (its sum runs by column here).
            for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
              const double tol = a[i].key == "weightRelRmsError" ? 1e-9 * std::fabs(a[i].number) : 0.0;
              CHECK_MSG(a[i].text == b[i].text && std::fabs(a[i].number - b[i].number) <= tol, "%s K=%lld N=%lld: %s differs\n",
                        isa_name, static_cast<long long>(K), static_cast<long long>(N), a[i].key.c_str());
            }
            CHECK(dense->bytes() == fromCsc->bytes());
            CHECK(same_outputs(*dense, *fromCsc));
          }
  }
}

TEST(formats_without_a_csc_packer_get_the_dense_matrix) {
  const int64_t K = 70, N = 9;
  auto W = pruned(K, N, 0.7, false, 4);
  Csc c = csc_of(W, K, N);
  for (const char* format : {"dense", "int8", "sparse"}) {
    auto a = sparq::pack_weights(format, W.data(), K, N, sparq::PackOptions{});
    auto b = sparq::pack_weights_csc(format, c.view(), c.nnz(), K, N, sparq::PackOptions{});
    CHECK(std::string(b->format()) == format);
    CHECK(same_outputs(*a, *b));
  }
}

TEST(bad_csc_is_refused) {
  const int64_t K = 20, N = 4;
  auto W = pruned(K, N, 0.5, false, 5);
  Csc good = csc_of(W, K, N);
  CHECK(!refused("sparse-int8", good.view(), good.nnz(), K, N));
  Csc c = good;
  c.rows[1] = c.rows[0];  // not increasing
  CHECK(refused("sparse-int8", c.view(), c.nnz(), K, N));
  c = good;
  c.rows.back() = static_cast<int32_t>(K);  // past K
  CHECK(refused("sparse-int8", c.view(), c.nnz(), K, N));
  c = good;
  c.rows[0] = -1;
  CHECK(refused("sparse-int8", c.view(), c.nnz(), K, N));
  c = good;
  c.ptr[2] = c.ptr[1] - 1;  // decreasing
  CHECK(refused("sparse-int8", c.view(), c.nnz(), K, N));
  c = good;
  CHECK(refused("sparse-int8", c.view(), c.nnz() - 1, K, N));  // pointers past the arrays
  CHECK(refused("sparse-int8", good.view(), good.nnz(), 0, N));
  CHECK(refused("dense-magic", good.view(), good.nnz(), K, N));
}
TEST_MAIN()
