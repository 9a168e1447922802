// The strided GEMM (sgemm.h) against the double-accumulation reference: every ISA, all four
// transpose combinations, odd shapes, padded leading dimensions, alpha/beta, epilogues, batches and
// numpy-style matmul broadcasting. Outputs are NaN-prefilled where beta == 0 (must not be read).
#include <cmath>
#include <vector>

#include "check.h"
#include "sparq/error.h"
#include "sparq/sgemm.h"

using namespace sparq_test;

namespace {

// Scaled error bound per output: sum |a||b| + |beta c| + 1.
double compare(const std::vector<float>& got, const std::vector<float>& want, int64_t M, int64_t N, int64_t ldc,
               double scale) {
  double worst = 0;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      const float g = got[m * ldc + n], w = want[m * ldc + n];
      if (std::isnan(g) != std::isnan(w)) return INFINITY;
      if (std::isnan(g)) continue;
      worst = std::fmax(worst, std::fabs(static_cast<double>(g) - w) / scale);
    }
  return worst;
}

void check_case(sparq::Isa isa, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, float beta, int pad,
                int threads, bool with_ep, uint32_t seed) {
  const int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
  const int64_t arows = ta ? K : M, brows = tb ? N : K;
  auto A = random_vector(static_cast<size_t>(std::max<int64_t>(1, arows * lda)), seed);
  auto B = random_vector(static_cast<size_t>(std::max<int64_t>(1, brows * ldb)), seed + 1);
  auto C0 = random_vector(static_cast<size_t>(std::max<int64_t>(1, M * ldc)), seed + 2);
  auto bias = random_vector(static_cast<size_t>(std::max<int64_t>(1, N)), seed + 3);
  sparq::Epilogue ep{bias.data(), sparq::Activation::gelu};
  std::vector<float> want = C0, got = C0;
  if (beta == 0.0f) got = nan_filled(C0.size());
  // Padding columns of C must stay untouched: mark them.
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = N; n < ldc; ++n) got[m * ldc + n] = want[m * ldc + n] = 12345.0f;
  sparq::sgemm_reference(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, want.data(), ldc,
                         with_ep ? &ep : nullptr);
  sparq::sgemm(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, got.data(), ldc, threads,
               with_ep ? &ep : nullptr, isa);
  const double err = compare(got, want, M, ldc, ldc, static_cast<double>(K) + 2.0);
  CHECK_MSG(err < 2e-6, "%s ta=%d tb=%d M=%lld N=%lld K=%lld alpha=%g beta=%g pad=%d threads=%d ep=%d: error %g",
            sparq::isa_name(isa), ta, tb, (long long)M, (long long)N, (long long)K, alpha, beta, pad, threads, with_ep,
            err);
}

}  // namespace

TEST(sgemm_all_transposes_odd_shapes_every_isa) {
  uint32_t seed = 1;
  for (sparq::Isa isa : sparq::available_isas())
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb)
        for (int64_t M : {1, 2, 5, 12, 13, 37})
          for (int64_t N : {1, 3, 16, 17, 31, 33, 65})
            for (int64_t K : {1, 3, 16, 37}) check_case(isa, ta, tb, M, N, K, 1.0f, 0.0f, 0, 1, false, seed++);
}

TEST(sgemm_alpha_beta_padding_epilogue) {
  uint32_t seed = 100;
  for (sparq::Isa isa : sparq::available_isas())
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        check_case(isa, ta, tb, 7, 19, 11, 0.5f, 1.0f, 3, 1, false, seed++);
        check_case(isa, ta, tb, 13, 40, 29, -2.0f, 0.25f, 1, 1, true, seed++);
        check_case(isa, ta, tb, 1, 70, 300, 1.0f, 0.0f, 5, 1, true, seed++);
        check_case(isa, ta, tb, 5, 6, 0, 1.0f, 0.5f, 0, 1, true, seed++);   // K == 0: beta·C then epilogue
        check_case(isa, ta, tb, 5, 6, 4, 0.0f, 0.0f, 0, 1, false, seed++);  // alpha == 0
      }
}

TEST(sgemm_large_blocks_multithreaded) {
  uint32_t seed = 200;
  for (sparq::Isa isa : sparq::available_isas())
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        check_case(isa, ta, tb, 300, 129, 517, 1.0f, 0.0f, 2, 4, false, seed++);  // several K blocks and M chunks
        check_case(isa, ta, tb, 2, 1031, 70, 1.0f, 1.0f, 0, 4, false, seed++);    // N split across threads
        check_case(isa, ta, tb, 47, 300, 700, 1.0f, 0.5f, 3, 2, true, seed++);    // small M (B read in place), K blocks
      }
}

TEST(sgemm_strided_batched_matches_per_batch_reference) {
  const int64_t M = 9, N = 21, K = 13, batch = 5;
  for (sparq::Isa isa : sparq::available_isas())
    for (int64_t strideB : {int64_t(0), K * N}) {
      auto A = random_vector(static_cast<size_t>(batch * M * K), 3);
      auto B = random_vector(static_cast<size_t>(batch * K * N), 4);
      std::vector<float> want(static_cast<size_t>(batch * M * N)), got = nan_filled(want.size());
      for (int64_t i = 0; i < batch; ++i)
        sparq::sgemm_reference(false, true, M, N, K, 0.5f, A.data() + i * M * K, K, B.data() + i * strideB, K, 0.0f,
                               want.data() + i * M * N, N);
      for (int threads : {1, 3}) {
        got = nan_filled(want.size());
        sparq::sgemm_strided_batched(false, true, M, N, K, 0.5f, A.data(), K, M * K, B.data(), K, strideB, 0.0f,
                                     got.data(), N, M * N, batch, threads, nullptr, isa);
        CHECK_MSG(compare(got, want, batch * M, N, N, K + 2.0) < 2e-6, "%s strideB=%lld threads=%d",
                  sparq::isa_name(isa), (long long)strideB, threads);
      }
    }
}

TEST(matmul_broadcasts_batch_dims_like_numpy) {
  struct Case {
    sparq::Shape a, b, out;
  };
  const Case cases[] = {
      {{2, 3, 5, 7}, {2, 3, 7, 4}, {2, 3, 5, 4}}, {{2, 1, 5, 7}, {3, 7, 4}, {2, 3, 5, 4}},
      {{4, 5, 7}, {7, 6}, {4, 5, 6}},             {{7}, {7, 6}, {6}},
      {{4, 5, 7}, {7}, {4, 5}},                   {{7}, {3, 7, 2}, {3, 2}},
      {{1, 5, 7}, {4, 7, 3}, {4, 5, 3}},          {{5, 0}, {0, 3}, {5, 3}},
  };
  uint32_t seed = 50;
  for (const Case& c : cases) {
    const sparq::Shape out = sparq::matmul_output_shape(c.a, c.b);
    CHECK_MSG(out == c.out, "%s x %s gave %s", c.a.str().c_str(), c.b.str().c_str(), out.str().c_str());
    auto A = random_vector(static_cast<size_t>(c.a.numel()), seed++);
    auto B = random_vector(static_cast<size_t>(c.b.numel()), seed++);
    // Reference: explicit index arithmetic over the broadcast batch.
    const int64_t K = c.a.dims[c.a.rank - 1];
    const int64_t M = c.a.rank >= 2 ? c.a.dims[c.a.rank - 2] : 1, N = c.b.rank >= 2 ? c.b.dims[c.b.rank - 1] : 1;
    const int64_t nb = out.numel() / (M * N == 0 ? 1 : M * N);
    std::vector<float> want(static_cast<size_t>(out.numel()));
    const int br = out.rank - (c.a.rank >= 2) - (c.b.rank >= 2);
    for (int64_t i = 0; i < nb && M * N > 0; ++i) {
      int64_t rem = i, oa = 0, ob = 0, sa = M * K, sb = K * N;
      for (int d = br - 1; d >= 0; --d) {
        const int64_t di = rem % out.dims[d];
        rem /= out.dims[d];
        const int ia = c.a.rank - 2 - (br - d), ib = c.b.rank - 2 - (br - d);
        if (ia >= 0) {
          if (c.a.dims[ia] != 1) oa += di * sa;
          sa *= c.a.dims[ia];
        }
        if (ib >= 0) {
          if (c.b.dims[ib] != 1) ob += di * sb;
          sb *= c.b.dims[ib];
        }
      }
      sparq::sgemm_reference(false, false, M, N, K, 1.0f, A.data() + oa, std::max<int64_t>(K, 1), B.data() + ob, N,
                             0.0f, want.data() + i * M * N, N);
    }
    for (sparq::Isa isa : sparq::available_isas())
      for (int threads : {1, 2}) {
        auto got = nan_filled(want.size());
        sparq::matmul_f32(A.data(), c.a, B.data(), c.b, got.data(), threads, nullptr, isa);
        CHECK_MSG(compare(got, want, 1, static_cast<int64_t>(want.size()), static_cast<int64_t>(want.size()), K + 2.0) < 2e-6,
                  "%s x %s on %s", c.a.str().c_str(), c.b.str().c_str(), sparq::isa_name(isa));
      }
  }
}

TEST(sgemm_rejects_bad_arguments) {
  std::vector<float> buf(64, 0.0f);
  auto code_of = [](auto fn) -> std::string {
    try {
      fn();
    } catch (const sparq::Error& e) {
      return e.code();
    }
    return "";
  };
  CHECK(code_of([&] { sparq::sgemm(false, false, -1, 2, 2, 1, buf.data(), 2, buf.data(), 2, 0, buf.data(), 2, 1); }) ==
        "ERR_INVALID_ARGUMENT");
  CHECK(code_of([&] { sparq::sgemm(false, false, 2, 4, 3, 1, buf.data(), 2, buf.data(), 4, 0, buf.data(), 4, 1); }) ==
        "ERR_INVALID_ARGUMENT");  // lda < K
  CHECK(code_of([&] { sparq::matmul_output_shape({2, 3}, {4, 5}); }) == "ERR_SHAPE_MISMATCH");
  CHECK(code_of([&] { sparq::matmul_output_shape({2, 2, 3}, {3, 3, 5}); }) == "ERR_SHAPE_MISMATCH");
  CHECK(code_of([&] { sparq::matmul_output_shape(sparq::Shape{}, {3}); }) == "ERR_INVALID_ARGUMENT");
}

TEST_MAIN()
