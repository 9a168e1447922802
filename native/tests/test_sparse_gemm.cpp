// Sparse formats ('sparse', 'block' in every block shape, '2:4', 'auto', 'sparse-int8'): every ISA
// variant against the double-accumulation reference on odd shapes and several sparsities, outputs
// pre-filled with NaN; degenerate weights (all zero, all nonzero, empty rows/columns, K or N = 1);
// the pattern errors.
#include <cmath>
#include <random>

#include "kernel_testing.h"
#include "sparq/error.h"
#include "sparq/quantize.h"
#include "sparq/spmm_int8.h"
#include "sparq/threadpool.h"

using namespace sparq_test;

namespace {

// Zeroes a `sparsity` share of W at random.
std::vector<float> pruned(int64_t K, int64_t N, double sparsity, uint32_t seed) {
  auto W = random_vector(static_cast<size_t>(K * N), seed);
  std::mt19937 rng(seed * 31 + 7);
  std::uniform_real_distribution<double> u(0, 1);
  for (auto& w : W)
    if (u(rng) < sparsity) w = 0.0f;
  return W;
}

// Zeroes whole blocks (C outputs x L consecutive k) with probability `sparsity`.
std::vector<float> block_pruned(int64_t K, int64_t N, int C, int L, double sparsity, uint32_t seed) {
  auto W = random_vector(static_cast<size_t>(K * N), seed);
  std::mt19937 rng(seed * 17 + 3);
  std::uniform_real_distribution<double> u(0, 1);
  for (int64_t kb = 0; kb < K; kb += L)
    for (int64_t nb = 0; nb < N; nb += C)
      if (u(rng) < sparsity)
        for (int64_t k = kb; k < std::min(K, kb + L); ++k)
          for (int64_t n = nb; n < std::min(N, nb + C); ++n) W[k * N + n] = 0.0f;
  return W;
}

// Keeps the 2 largest of every 4 consecutive k per output (and drops more at random).
std::vector<float> pruned_2_4(int64_t K, int64_t N, uint32_t seed) {
  auto W = random_vector(static_cast<size_t>(K * N), seed);
  std::mt19937 rng(seed);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < K; g += 4) {
      int kept = 0;
      for (int64_t k = g; k < std::min(K, g + 4); ++k) {
        if (kept == 2 || rng() % 3 == 0) {
          W[k * N + n] = 0.0f;
        } else {
          ++kept;
        }
      }
    }
  return W;
}

sparq::PackOptions block_option(const std::string& block) {
  sparq::PackOptions o;
  if (!block.empty()) o.strings["block"] = block;
  return o;
}

std::vector<Shape> sparse_shapes() {
  std::vector<Shape> s;
  for (int64_t M : {1, 2, 3, 5, 17, 37, 70})
    for (int64_t K : {1, 3, 16, 37})
      for (int64_t N : {1, 5, 16, 17, 33, 37}) s.push_back({M, K, N});
  s.push_back({1, 1031, 1003});
  s.push_back({37, 1029, 77});
  s.push_back({66, 300, 129});
  s.push_back({130, 97, 45});
  return s;
}

void check_on_shapes(const std::string& format, const std::string& block, double sparsity, uint32_t seed0,
                     bool structured24 = false) {
  uint32_t seed = seed0;
  for (const Shape& s : sparse_shapes()) {
    std::vector<float> W;
    if (structured24) {
      W = pruned_2_4(s.K, s.N, seed);
    } else if (!block.empty()) {
      const int C = std::stoi(block.substr(0, block.find('x'))), L = std::stoi(block.substr(block.find('x') + 1));
      W = block_pruned(s.K, s.N, C, L, sparsity, seed);
    } else {
      W = pruned(s.K, s.N, sparsity, seed);
    }
    check_format_against_reference(format, W, s, 1e-5, seed, 1, block_option(block));
    seed += 11;
  }
}

}  // namespace

TEST(sparse_matches_reference) {
  for (double sp : {0.0, 0.5, 0.9, 0.99}) check_on_shapes("sparse", "", sp, 100 + static_cast<uint32_t>(sp * 100));
}

TEST(block_matches_reference_every_shape) {
  for (const char* b : {"1x4", "4x1", "8x1", "16x1"})
    for (double sp : {0.3, 0.8}) check_on_shapes("block", b, sp, 300 + static_cast<uint32_t>(sp * 10));
}

TEST(block_holds_unstructured_weights) {
  // Weights that aren't block-pruned still multiply exactly (blocks are stored with their zeros).
  for (const char* b : {"1x4", "4x1", "8x1", "16x1"}) {
    auto W = pruned(45, 70, 0.7, 5);
    check_format_against_reference("block", W, {33, 45, 70}, 1e-5, 5, 1, block_option(b));
    check_format_against_reference("block", W, {1, 45, 70}, 1e-5, 6, 1, block_option(b));
  }
}

TEST(two_four_matches_reference) { check_on_shapes("2:4", "", 0.0, 500, true); }

TEST(sparse_formats_multithreaded) {
  for (const char* f : {"sparse", "block", "2:4"}) {
    for (const Shape& s : {Shape{64, 512, 300}, Shape{1, 700, 900}, Shape{129, 1030, 65}}) {
      auto W = std::string(f) == "2:4" ? pruned_2_4(s.K, s.N, 3) : block_pruned(s.K, s.N, 1, 4, 0.8, 3);
      check_format_against_reference(f, W, s, 1e-5, 9, 4);
    }
  }
  for (const char* b : {"4x1", "16x1"}) {
    auto W = block_pruned(700, 333, b[0] == '4' ? 4 : 16, 1, 0.7, 4);
    check_format_against_reference("block", W, {97, 700, 333}, 1e-5, 9, 4, block_option(b));
  }
}

TEST(degenerate_weights) {
  for (const char* f : {"sparse", "block", "2:4"}) {
    for (const Shape& s : {Shape{1, 1, 1}, Shape{5, 1, 40}, Shape{40, 40, 1}, Shape{33, 64, 48}}) {
      std::vector<float> zeros(static_cast<size_t>(s.K * s.N), 0.0f);
      check_format_against_reference(f, zeros, s, 1e-5, 1);
      // An all-zero row of W (a dead input) and an all-zero column (a dead output).
      auto W = std::string(f) == "2:4" ? pruned_2_4(s.K, s.N, 4) : random_vector(static_cast<size_t>(s.K * s.N), 4);
      for (int64_t n = 0; n < s.N; ++n) W[n] = 0.0f;
      for (int64_t k = 0; k < s.K; ++k) W[k * s.N + s.N / 2] = 0.0f;
      check_format_against_reference(f, W, s, 1e-5, 2);
    }
  }
  // 0% sparsity in the unstructured and block formats.
  for (const char* f : {"sparse", "block"}) check_format_against_reference(f, random_vector(37 * 50, 3), {19, 37, 50}, 1e-5, 3);
}

TEST(reports_density_and_bytes) {
  const int64_t K = 256, N = 512;
  auto W = pruned(K, N, 0.9, 8);
  int64_t nz = 0;
  for (float w : W) nz += w != 0.0f;
  auto sparse = sparq::pack_weights("sparse", W.data(), K, N, {});
  CHECK(std::string(sparse->format()) == "sparse");
  CHECK(std::fabs(sparse->density() - static_cast<double>(nz) / (K * N)) < 1e-12);
  CHECK(sparse->bytes() < static_cast<size_t>(K * N * 4) / 5);
  auto W24 = pruned_2_4(K, N, 8);
  auto two4 = sparq::pack_weights("2:4", W24.data(), K, N, {});
  CHECK(two4->bytes() < static_cast<size_t>(K * N * 4) * 6 / 10);
}

TEST(pattern_and_option_errors) {
  auto W = random_vector(8 * 8, 1);  // dense: not 2:4
  auto throws_code = [&](const std::string& fmt, const std::string& block, const char* code) {
    try {
      sparq::PackOptions opts;
      if (!block.empty()) opts.strings["block"] = block;
      sparq::pack_weights(fmt, W.data(), 8, 8, opts);
    } catch (const sparq::Error& e) {
      return e.code() == code;
    }
    return false;
  };
  CHECK(throws_code("2:4", "", "ERR_INVALID_ARGUMENT"));
  CHECK(throws_code("block", "3x3", "ERR_INVALID_ARGUMENT"));
  CHECK(throws_code("block", "2x1", "ERR_INVALID_ARGUMENT"));
  std::vector<float> tall(static_cast<size_t>(70000), 1.0f);
  bool threw = false;
  try {
    sparq::pack_weights("sparse", tall.data(), 70000, 1, {});
  } catch (const sparq::Error& e) {
    threw = e.code() == "ERR_INVALID_ARGUMENT";
  }
  CHECK(threw);
}

// sparse-int8: the s32 accumulators of both kernels equal Σ_k xq·code exactly (every ISA), and the
// outputs equal the scalar dequantization of those accumulators.
void check_sparse_int8(const std::vector<float>& W, const Shape& s, uint32_t seed, int threads = 1) {
  auto x = random_vector(static_cast<size_t>(s.M * s.K), seed + 1, -2.0f, 3.0f);
  auto bias = random_vector(static_cast<size_t>(s.N), seed + 2);
  for (sparq::Isa isa : sparq::available_isas()) {
    sparq::PackOptions opts;
    opts.strings["isa"] = sparq::isa_name(isa);
    auto packed = sparq::pack_weights("sparse-int8", W.data(), s.K, s.N, opts);
    auto* w = dynamic_cast<const sparq::SparseInt8Weights*>(packed.get());
    CHECK(w != nullptr);
    if (!w) return;
    const int64_t kp = w->padded_k();
    std::vector<int8_t> codes(static_cast<size_t>(s.K * s.N));
    for (int64_t k = 0; k < s.K; ++k)
      for (int64_t n = 0; n < s.N; ++n) codes[k * s.N + n] = w->code(k, n);
    std::vector<float> sa(static_cast<size_t>(s.M));
    std::vector<int32_t> za(static_cast<size_t>(s.M));
    std::vector<uint8_t> xq(static_cast<size_t>(s.M * kp));
    sparq::quantize_rows_u8(sparq::Isa::scalar, x.data(), s.M, s.K, kp, xq.data(), sa.data(), za.data(), false);
    std::vector<int32_t> want(static_cast<size_t>(s.M * s.N), 0);
    std::vector<int32_t> colsum(static_cast<size_t>(s.N), 0);
    for (int64_t m = 0; m < s.M; ++m)
      for (int64_t k = 0; k < s.K; ++k)
        for (int64_t n = 0; n < s.N; ++n) want[m * s.N + n] += xq[m * kp + k] * codes[k * s.N + n];
    for (int64_t k = 0; k < s.K; ++k)
      for (int64_t n = 0; n < s.N; ++n) colsum[n] += codes[k * s.N + n];
    for (bool rows_kernel : {false, true}) {
      std::vector<int32_t> got(static_cast<size_t>(s.M * s.N), -12345);
      std::vector<uint8_t> got_xq(static_cast<size_t>(s.M * kp));
      std::vector<int32_t> got_za(static_cast<size_t>(s.M));
      w->accumulators(x.data(), s.M, rows_kernel, got.data(), got_xq.data(), got_za.data());
      CHECK_MSG(got_xq == xq && got_za == za, "%s quantized x differs", sparq::isa_name(isa));
      CHECK_MSG(got == want, "sparse-int8/%s %s M=%lld K=%lld N=%lld: accumulators differ", sparq::isa_name(isa),
                rows_kernel ? "rows" : "xt", (long long)s.M, (long long)s.K, (long long)s.N);
    }
    // Outputs: the dequantized accumulators through the epilogue.
    std::vector<float> scale(static_cast<size_t>(s.N));
    for (int64_t n = 0; n < s.N; ++n) {
      float mx = 0;
      for (int64_t k = 0; k < s.K; ++k) mx = std::max(mx, std::fabs(W[k * s.N + n]));
      scale[n] = mx > 0 ? mx / static_cast<float>(isa == sparq::Isa::avx2 ? 63 : 127) : 1.0f;
    }
    for (auto act : {sparq::Activation::none, sparq::Activation::relu, sparq::Activation::gelu}) {
      sparq::Epilogue ep{bias.data(), act};
      auto y = nan_filled(static_cast<size_t>(s.M * s.N));
      packed->matmul(x.data(), s.M, y.data(), ep, threads);
      double worst = 0;
      for (int64_t m = 0; m < s.M; ++m)
        for (int64_t n = 0; n < s.N; ++n) {
          const float v = sparq::dequant_ref(want[m * s.N + n], za[m], colsum[n], sa[m], scale[n]) + bias[n];
          const double e = std::fabs(y[m * s.N + n] - sparq::apply_activation_ref(v, act)) / (1.0 + std::fabs(v));
          worst = std::isnan(e) ? INFINITY : std::max(worst, e);
        }
      CHECK_MSG(worst < 1e-5, "sparse-int8/%s M=%lld K=%lld N=%lld act=%d: output error %g", sparq::isa_name(isa),
                (long long)s.M, (long long)s.K, (long long)s.N, (int)act, worst);
    }
  }
}

TEST(sparse_int8_exact_accumulators) {
  uint32_t seed = 700;
  for (const Shape& s : sparse_shapes()) {
    if (s.K * s.N > 200000) continue;  // the naive reference above is slow
    for (double sp : {0.0, 0.6, 0.9}) check_sparse_int8(pruned(s.K, s.N, sp, seed), s, seed), seed += 3;
    check_sparse_int8(block_pruned(s.K, s.N, 1, 4, 0.9, seed), s, seed);
  }
  check_sparse_int8(block_pruned(300, 1000, 1, 4, 0.9, 5), {1, 300, 1000}, 5);
  check_sparse_int8(block_pruned(1030, 130, 1, 4, 0.8, 6), {70, 1030, 130}, 6, 4);
  check_sparse_int8(pruned(520, 97, 0.95, 7), {129, 520, 97}, 7, 4);
  // Nonzeros layout with more than 64 nonzeros of an output in a chunk (the row kernel's loop).
  check_sparse_int8(pruned(1030, 40, 0.72, 8), {1, 1030, 40}, 8);
  check_sparse_int8(pruned(1030, 40, 0.72, 9), {67, 1030, 40}, 9);
}

TEST(sparse_int8_degenerate) {
  for (const Shape& s : {Shape{1, 1, 1}, Shape{5, 1, 40}, Shape{40, 40, 1}, Shape{33, 64, 48}}) {
    check_sparse_int8(std::vector<float>(static_cast<size_t>(s.K * s.N), 0.0f), s, 1);
    auto W = random_vector(static_cast<size_t>(s.K * s.N), 4);
    for (int64_t n = 0; n < s.N; ++n) W[n] = 0.0f;
    for (int64_t k = 0; k < s.K; ++k) W[k * s.N + s.N / 2] = 0.0f;
    check_sparse_int8(W, s, 2);
  }
  // A zero row of x: scale 1, zero point 0, outputs = bias exactly.
  std::vector<float> W = random_vector(64 * 20, 3), x(64, 0.0f), bias = random_vector(20, 4), y(20);
  auto p = sparq::pack_weights("sparse-int8", W.data(), 64, 20, {});
  p->matmul(x.data(), 1, y.data(), {bias.data(), sparq::Activation::none}, 1);
  CHECK(y == bias);
  CHECK(std::string(p->format()) == "sparse-int8");
}

std::string info_text(const sparq::PackedWeights& w, const std::string& key) {
  std::vector<sparq::InfoEntry> info;
  w.describe(info);
  for (auto& e : info)
    if (e.key == key) return e.text;
  return "";
}

TEST(sparse_int8_layouts) {
  // Random sparsity leaves ~1 code per block: the nonzeros layout; block pruning fills blocks: words.
  auto unstructured = pruned(256, 300, 0.9, 1), blocks = block_pruned(256, 300, 1, 4, 0.9, 2);
  auto a = sparq::pack_weights("sparse-int8", unstructured.data(), 256, 300, {});
  auto b = sparq::pack_weights("sparse-int8", blocks.data(), 256, 300, {});
  CHECK(info_text(*a, "layout") == "nonzeros");
  CHECK(info_text(*b, "layout") == "words");
  CHECK(a->bytes() < static_cast<size_t>(256 * 300 * 4) * 8 / 100);
}

TEST(sparse_int8_memory) {
  const int64_t K = 768, N = 512;
  auto W = block_pruned(K, N, 1, 4, 0.9, 8);
  auto p = sparq::pack_weights("sparse-int8", W.data(), K, N, {});
  CHECK_MSG(p->bytes() < static_cast<size_t>(K * N * 4) * 8 / 100, "bytes %zu", p->bytes());
  CHECK(p->density() > 0.05 && p->density() < 0.15);
}

TEST_MAIN()
