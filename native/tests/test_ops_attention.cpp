// Fused attention (ops.h) against the unfused composition computed in double: both encoder layouts
// ([B, S, H·D] projections and [B, H, S, D]), broadcast and full masks, every ISA, threads.
#include <cmath>

#include "ops_testing.h"

using namespace sparq_test;
using sparq::AttentionStrides;

namespace {

void check(int64_t B, int64_t H, int64_t Sq, int64_t Sk, int64_t D, bool packed_layout, int mask_kind, uint32_t seed) {
  // packed_layout: [B, S, H*D]; else [B, H, S, D].
  auto strides = [&](int64_t S) {
    return packed_layout ? AttentionStrides{S * H * D, D, H * D} : AttentionStrides{H * S * D, S * D, D};
  };
  const AttentionStrides qs = strides(Sq), ks = strides(Sk), os = strides(Sq);
  auto q = random_vector(static_cast<size_t>(B * H * Sq * D), seed, -2, 2);
  auto k = random_vector(static_cast<size_t>(B * H * Sk * D), seed + 1, -2, 2);
  auto v = random_vector(static_cast<size_t>(B * H * Sk * D), seed + 2);
  // mask_kind 0: none; 1: [B, 1, 1, Sk] padding mask with -10000; 2: full [B, H, Sq, Sk].
  std::vector<float> mask;
  AttentionStrides ms{0, 0, 0};
  if (mask_kind == 1) {
    mask.assign(static_cast<size_t>(B * Sk), 0.0f);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = Sk - b; j < Sk; ++j) mask[b * Sk + j] = -10000.0f;
    ms = {Sk, 0, 0};
  } else if (mask_kind == 2) {
    mask = random_vector(static_cast<size_t>(B * H * Sq * Sk), seed + 3, -3, 3);
    ms = {H * Sq * Sk, Sq * Sk, Sk};
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  std::vector<double> want(static_cast<size_t>(B * H * Sq * D));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < Sq; ++i) {
        std::vector<double> s(static_cast<size_t>(Sk));
        double m = -INFINITY, sum = 0;
        for (int64_t j = 0; j < Sk; ++j) {
          double acc = 0;
          for (int64_t d = 0; d < D; ++d)
            acc += static_cast<double>(q[b * qs.batch + h * qs.head + i * qs.row + d]) * k[b * ks.batch + h * ks.head + j * ks.row + d];
          s[j] = acc * scale + (mask_kind ? mask[b * ms.batch + h * ms.head + i * ms.row + j] : 0.0f);
          m = std::max(m, s[j]);
        }
        for (auto& e : s) sum += (e = std::exp(e - m));
        for (int64_t d = 0; d < D; ++d) {
          double acc = 0;
          for (int64_t j = 0; j < Sk; ++j) acc += s[j] / sum * v[b * ks.batch + h * ks.head + j * ks.row + d];
          want[b * os.batch + h * os.head + i * os.row + d] = acc;
        }
      }
  for (sparq::Isa isa : sparq::available_isas())
    for (int threads : {1, 2, 4}) {
      auto out = nan_filled(want.size());
      sparq::attention(B, H, Sq, Sk, D, scale, q.data(), qs, k.data(), ks, v.data(), ks, mask_kind ? mask.data() : nullptr,
                       ms, out.data(), os, ctx_for(isa, threads));
      int bad = 0;
      for (size_t i = 0; i < want.size(); ++i) bad += !close(out[i], want[i], 1e-5, 1e-5);
      CHECK_MSG(bad == 0, "%s B=%lld H=%lld Sq=%lld Sk=%lld D=%lld packed=%d mask=%d threads=%d: %d wrong",
                sparq::isa_name(isa), (long long)B, (long long)H, (long long)Sq, (long long)Sk, (long long)D, packed_layout,
                mask_kind, threads, bad);
    }
}

}  // namespace

TEST(attention_matches_unfused_reference) {
  uint32_t seed = 1;
  for (bool packed : {true, false})
    for (int mask : {0, 1, 2}) {
      check(2, 3, 5, 5, 16, packed, mask, seed += 5);
      check(1, 2, 7, 13, 33, packed, mask, seed += 5);
      check(3, 1, 1, 9, 8, packed, mask, seed += 5);
    }
  check(2, 12, 64, 64, 64, true, 1, 99);  // BERT-like, threads split over heads
}

TEST(attention_rejects_bad_strides) {
  std::vector<float> x(64);
  const AttentionStrides good{16, 16, 8}, short_row{16, 16, 4};
  CHECK(error_code([&] {
          sparq::attention(1, 1, 2, 2, 8, 1.0f, x.data(), short_row, x.data(), good, x.data(), good, nullptr, {0, 0, 0},
                           x.data(), good);
        }) == "ERR_INVALID_ARGUMENT");
  CHECK(error_code([&] {
          sparq::attention(1, -1, 2, 2, 8, 1.0f, x.data(), good, x.data(), good, x.data(), good, nullptr, {0, 0, 0},
                           x.data(), good);
        }) == "ERR_INVALID_ARGUMENT");
}

TEST_MAIN()
