// Convolutions (sparq/conv.h) against the double-accumulation reference on odd shapes, outputs
// pre-filled with NaN: the im2col + packed-GEMM conv on the dense, sparse and int8 formats, the
// depthwise kernel of every ISA, the pools, and the epilogues (bias, Relu, Clip, HardSwish, residual).
#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <string>

#include "check.h"
#include "sparq/conv.h"
#include "sparq/cpu.h"

using namespace sparq_test;
using sparq::ConvAct;
using sparq::ConvGeom;
using sparq::ConvPost;

namespace {

ConvGeom geom(int64_t N, int64_t H, int64_t W, int64_t C, int64_t OC, int64_t kh, int64_t kw, int64_t s, int64_t d,
              int64_t pt, int64_t pl, int64_t pb, int64_t pr) {
  ConvGeom g;
  g.N = N, g.H = H, g.W = W, g.C = C, g.OC = OC, g.kh = kh, g.kw = kw, g.sh = s, g.sw = s, g.dh = d, g.dw = d;
  g.pt = pt, g.pl = pl, g.pb = pb, g.pr = pr;
  g.OH = sparq::conv_out_size(H, kh, s, d, pt, pb, false);
  g.OW = sparq::conv_out_size(W, kw, s, d, pl, pr, false);
  return g;
}

std::vector<ConvGeom> geometries() {
  return {
      geom(1, 7, 9, 3, 5, 3, 3, 1, 1, 1, 1, 1, 1),    geom(2, 11, 6, 8, 16, 3, 3, 2, 1, 1, 1, 1, 1),
      geom(1, 9, 9, 17, 33, 1, 1, 1, 1, 0, 0, 0, 0),   geom(1, 10, 13, 5, 7, 1, 1, 2, 1, 0, 0, 0, 0),
      geom(1, 12, 12, 4, 12, 5, 5, 1, 2, 0, 1, 2, 3),  geom(3, 5, 4, 1, 1, 2, 3, 1, 1, 0, 0, 1, 1),
      geom(1, 1, 31, 6, 10, 1, 5, 1, 1, 0, 2, 0, 2),   geom(1, 15, 15, 32, 37, 3, 3, 2, 1, 0, 0, 1, 1),
      geom(1, 28, 28, 24, 40, 3, 3, 1, 1, 1, 1, 1, 1),
      // The direct kernel's cases (C >= 16, K <= 2048): a panel pair plus a narrow last panel, batch,
      // dilation, a window wider than tall, pixels tiles running across output rows.
      geom(2, 9, 10, 20, 70, 3, 3, 1, 2, 2, 2, 2, 2),  geom(1, 8, 7, 16, 33, 5, 3, 2, 1, 2, 1, 2, 1),
      geom(1, 5, 5, 64, 24, 3, 3, 1, 1, 1, 1, 1, 1),
      // Few channels, wide windows: whole window rows as one run (a 7x7/2 RGB stem, a 5x5 over 4).
      geom(1, 20, 19, 3, 40, 7, 7, 2, 1, 3, 3, 3, 3),   geom(1, 9, 11, 4, 16, 5, 5, 1, 1, 2, 2, 2, 2),
  };
}

std::vector<double> scale_of(const std::vector<float>& x, const ConvGeom& g, const std::vector<float>& W, const float* bias,
                             const ConvPost& post) {
  // Per-output magnitude bound: sum over the window of |x||w| + |bias| + |residual| + 1.
  std::vector<float> ax(x.size()), aw(W.size());
  for (size_t i = 0; i < x.size(); ++i) ax[i] = std::fabs(x[i]);
  for (size_t i = 0; i < W.size(); ++i) aw[i] = std::fabs(W[i]);
  std::vector<float> out(static_cast<size_t>(g.rows() * g.OC));
  ConvPost none;
  sparq::conv2d_nhwc_reference(ax.data(), g, aw.data(), nullptr, none, out.data());
  std::vector<double> s(out.size());
  for (size_t i = 0; i < s.size(); ++i)
    s[i] = 1.0 + out[i] + (bias ? std::fabs(bias[i % static_cast<size_t>(g.OC)]) : 0.0) + (post.residual ? std::fabs(post.residual[i]) : 0.0);
  return s;
}

}  // namespace

TEST(conv_gemm_matches_reference_every_format_and_isa) {
  uint32_t seed = 1;
  // Clip(0, 6) is Relu6, which runs in the GEMM's epilogue; Clip(0, 0.5) runs as a pass after it.
  const ConvPost posts[] = {{nullptr, ConvAct::none, 0, 0}, {nullptr, ConvAct::relu, 0, 0}, {nullptr, ConvAct::clip, 0.0f, 0.5f},
                            {nullptr, ConvAct::hardswish, 0, 0}, {nullptr, ConvAct::clip, 0.0f, 6.0f}};
  for (const ConvGeom& g : geometries()) {
    auto x = random_vector(static_cast<size_t>(g.N * g.H * g.W * g.C), seed++, -2.0f, 2.0f);  // sums past 6 for Relu6
    auto W = random_vector(static_cast<size_t>(g.K() * g.OC), seed++);
    auto bias = random_vector(static_cast<size_t>(g.OC), seed++);
    auto residual = random_vector(static_cast<size_t>(g.rows() * g.OC), seed++);
    for (size_t i = 0; i < W.size(); i += 3) W[i] = 0.0f;  // a third pruned: the sparse formats see real zeros
    for (int p = 0; p < 7; ++p) {
      ConvPost post = posts[p % 5];
      if (p >= 5) post.residual = residual.data();
      const float* b = p == 1 ? nullptr : bias.data();
      std::vector<float> want(static_cast<size_t>(g.rows() * g.OC));
      sparq::conv2d_nhwc_reference(x.data(), g, W.data(), b, post, want.data());
      const auto scale = scale_of(x, g, W, b, post);
      for (sparq::Isa isa : sparq::available_isas())
        for (const char* format : {"dense", "sparse", "int8"}) {
          sparq::PackOptions opts;
          opts.strings["isa"] = sparq::isa_name(isa);
          auto packed = sparq::pack_weights(format, W.data(), g.K(), g.OC, opts);
          for (int threads : {1, 2}) {
            auto y = nan_filled(want.size());
            sparq::conv2d_nhwc(x.data(), g, *packed, b, post, y.data(), threads);
            const double err = max_scaled_error(y, want, scale);
            // int8 weights and activations: ~1% of the magnitude; fp32 formats: rounding only.
            const double tol = std::string(format) == "int8" ? 2e-2 : 1e-5;
            CHECK_MSG(err < tol, "%s %s %lldx%lldx%lldx%lld oc %lld k %lldx%lld post %d threads %d: error %g", sparq::isa_name(isa),
                      format, (long long)g.N, (long long)g.H, (long long)g.W, (long long)g.C, (long long)g.OC, (long long)g.kh,
                      (long long)g.kw, p, threads, err);
          }
        }
    }
  }
}

TEST(depthwise_matches_reference_every_isa) {
  uint32_t seed = 100;
  for (int64_t C : {1, 7, 16, 19, 64, 67, 96})
    for (int64_t mult : {1, 2})
      for (const ConvGeom& base : {geom(1, 9, 8, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1), geom(2, 12, 11, 1, 1, 3, 3, 2, 1, 0, 1, 1, 0),
                                   geom(1, 7, 7, 1, 1, 5, 5, 1, 2, 4, 4, 4, 4), geom(1, 1, 20, 1, 1, 1, 3, 1, 1, 0, 1, 0, 1),
                                   geom(1, 4, 31, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1), geom(1, 5, 40, 1, 1, 5, 5, 2, 1, 2, 2, 2, 2)}) {
        ConvGeom g = base;
        g.C = C, g.OC = C * mult;
        auto x = random_vector(static_cast<size_t>(g.N * g.H * g.W * g.C), seed++);
        auto w = random_vector(static_cast<size_t>(g.kh * g.kw * g.OC), seed++);
        auto bias = random_vector(static_cast<size_t>(g.OC), seed++);
        auto residual = random_vector(static_cast<size_t>(g.rows() * g.OC), seed++);
        for (int p = 0; p < 3; ++p) {
          ConvPost post;
          post.act = p == 1 ? ConvAct::clip : p == 2 ? ConvAct::relu : ConvAct::none;
          post.lo = 0.0f, post.hi = 0.6f;
          if (p == 2) post.residual = residual.data();
          std::vector<float> want(static_cast<size_t>(g.rows() * g.OC));
          sparq::depthwise_nhwc_ref(x.data(), g, mult, w.data(), bias.data(), post, want.data(), 0, g.N * g.OH);
          for (sparq::Isa isa : sparq::available_isas())
            for (int threads : {1, 2}) {
              auto y = nan_filled(want.size());
              sparq::OpContext ctx;
              ctx.isa = isa, ctx.threads = threads;
              sparq::depthwise_nhwc(x.data(), g, mult, w.data(), bias.data(), post, y.data(), ctx);
              int bad = 0;
              for (size_t i = 0; i < y.size(); ++i) bad += !(std::fabs(y[i] - want[i]) <= 1e-5f * (1.0f + std::fabs(want[i])));
              CHECK_MSG(bad == 0, "%s depthwise C %lld mult %lld k %lld post %d: %d wrong", sparq::isa_name(isa), (long long)C,
                        (long long)mult, (long long)g.kh, p, bad);
            }
        }
      }
}

TEST(pools_match_direct_loops) {
  const ConvGeom g0 = geom(2, 9, 8, 5, 5, 3, 3, 2, 1, 1, 1, 1, 1);
  ConvGeom g = g0;
  g.OH = sparq::conv_out_size(g.H, 3, 2, 1, 1, 1, true);
  g.OW = sparq::conv_out_size(g.W, 3, 2, 1, 1, 1, true);
  auto x = random_vector(static_cast<size_t>(g.N * g.H * g.W * g.C), 7);
  const size_t n = static_cast<size_t>(g.rows() * g.C);
  auto mx = nan_filled(n), avg = nan_filled(n), avg_pad = nan_filled(n);
  std::vector<int64_t> idx(n, -7);
  sparq::OpContext ctx;
  sparq::max_pool_nhwc(x.data(), g, mx.data(), idx.data(), 0, ctx);
  sparq::avg_pool_nhwc(x.data(), g, false, avg.data(), ctx);
  sparq::avg_pool_nhwc(x.data(), g, true, avg_pad.data(), ctx);
  int bad = 0;
  for (int64_t nn = 0; nn < g.N; ++nn)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow)
        for (int64_t c = 0; c < g.C; ++c) {
          double m = -INFINITY, s = 0;
          int64_t in = 0, padded = 0, arg = -1;
          for (int64_t ki = 0; ki < 3; ++ki)
            for (int64_t kj = 0; kj < 3; ++kj) {
              const int64_t ih = oh * 2 - 1 + ki, iw = ow * 2 - 1 + kj;
              if (ih < g.H + 1 && iw < g.W + 1) ++padded;
              if (ih < 0 || iw < 0 || ih >= g.H || iw >= g.W) continue;
              const float v = x[static_cast<size_t>(((nn * g.H + ih) * g.W + iw) * g.C + c)];
              if (v > m) m = v, arg = ((nn * g.C + c) * g.H + ih) * g.W + iw;
              s += v, ++in;
            }
          const size_t o = static_cast<size_t>(((nn * g.OH + oh) * g.OW + ow) * g.C + c);
          bad += mx[o] != static_cast<float>(m) || idx[o] != arg;
          bad += std::fabs(avg[o] - s / in) > 1e-6 || std::fabs(avg_pad[o] - s / padded) > 1e-6;
        }
  CHECK_MSG(bad == 0, "%d wrong pooled values", bad);
  std::vector<float> gp(static_cast<size_t>(g.N * g.C));
  sparq::global_pool_nhwc(x.data(), g.N, g.H * g.W, g.C, false, gp.data());
  double s = 0;
  for (int64_t p = 0; p < g.H * g.W; ++p) s += x[static_cast<size_t>(p * g.C + 3)];
  CHECK(std::fabs(gp[3] - s / static_cast<double>(g.H * g.W)) < 1e-5);
}

// NCHW Conv and ConvTranspose as GEMMs (sgemm of every ISA) against their direct loops: groups, strides,
// dilations, pads, a 1x1 conv with no im2col, output dims larger than the taps reach (output_padding).
TEST(nchw_conv_and_conv_transpose_gemm_match_direct_loops) {
  struct Case {
    ConvGeom g;
    int64_t group;
  };
  auto transposed = [](int64_t N, int64_t H, int64_t W, int64_t C, int64_t OC, int64_t k, int64_t s, int64_t d, int64_t p, int64_t extra) {
    ConvGeom g = geom(N, H, W, C, OC, k, k, s, d, p, p, p, p);
    g.OH = (H - 1) * s - 2 * p + d * (k - 1) + 1 + extra;
    g.OW = (W - 1) * s - 2 * p + d * (k - 1) + 1 + extra;
    return g;
  };
  const Case convs[] = {{geom(1, 7, 9, 3, 5, 3, 3, 1, 1, 1, 1, 1, 1), 1}, {geom(2, 11, 6, 8, 16, 3, 3, 2, 1, 1, 0, 1, 2), 2},
                        {geom(1, 9, 9, 17, 33, 1, 1, 1, 1, 0, 0, 0, 0), 1}, {geom(1, 12, 12, 4, 12, 5, 5, 1, 2, 0, 1, 2, 3), 4},
                        {geom(1, 1, 40, 120, 48, 1, 1, 1, 1, 0, 0, 0, 0), 1}, {geom(1, 10, 13, 6, 6, 3, 3, 2, 1, 1, 1, 1, 1), 6}};
  const Case transposes[] = {{transposed(1, 5, 6, 8, 6, 2, 2, 1, 0, 0), 1}, {transposed(2, 4, 3, 6, 4, 3, 2, 1, 1, 1), 2},
                             {transposed(1, 6, 5, 3, 5, 3, 1, 2, 1, 0), 1}, {transposed(1, 9, 7, 24, 1, 2, 2, 1, 0, 0), 1},
                             {transposed(1, 4, 4, 4, 8, 4, 3, 1, 0, 2), 4}};
  uint32_t seed = 500;
  for (int kind = 0; kind < 2; ++kind) {
    const Case* list = kind == 0 ? convs : transposes;
    const size_t count = kind == 0 ? std::size(convs) : std::size(transposes);
    for (size_t i = 0; i < count; ++i) {
      const ConvGeom& g = list[i].g;
      const int64_t group = list[i].group;
      const size_t wn = static_cast<size_t>(kind == 0 ? g.OC * (g.C / group) * g.kh * g.kw : g.C * (g.OC / group) * g.kh * g.kw);
      auto x = random_vector(static_cast<size_t>(g.N * g.C * g.H * g.W), seed++);
      auto w = random_vector(wn, seed++);
      auto bias = random_vector(static_cast<size_t>(g.OC), seed++);
      std::vector<float> ax(x.size()), aw(w.size()), want(static_cast<size_t>(g.N * g.OC * g.OH * g.OW)), mag(want.size());
      for (size_t k = 0; k < x.size(); ++k) ax[k] = std::fabs(x[k]);
      for (size_t k = 0; k < w.size(); ++k) aw[k] = std::fabs(w[k]);
      for (int with_bias = 0; with_bias < 2; ++with_bias) {
        const float* b = with_bias ? bias.data() : nullptr;
        if (kind == 0) {
          sparq::conv_nchw(x.data(), w.data(), b, g, group, want.data());
          sparq::conv_nchw(ax.data(), aw.data(), nullptr, g, group, mag.data());
        } else {
          sparq::conv_transpose_nchw(x.data(), w.data(), b, g, group, want.data());
          sparq::conv_transpose_nchw(ax.data(), aw.data(), nullptr, g, group, mag.data());
        }
        std::vector<double> scale(mag.size());
        for (size_t k = 0; k < scale.size(); ++k) scale[k] = 1.0 + mag[k];
        for (sparq::Isa isa : sparq::available_isas()) {
          sparq::OpContext ctx;
          ctx.isa = isa;
          auto y = nan_filled(want.size());
          if (kind == 0)
            sparq::conv_nchw_gemm(x.data(), w.data(), b, g, group, y.data(), ctx);
          else
            sparq::conv_transpose_nchw_gemm(x.data(), w.data(), b, g, group, y.data(), ctx);
          const double err = max_scaled_error(y, want, scale);
          CHECK_MSG(err < 1e-5, "%s %s case %zu bias %d: error %g", sparq::isa_name(isa), kind == 0 ? "conv" : "conv_transpose", i,
                    with_bias, err);
        }
      }
    }
  }
}

// Max pool without indices (its per-ISA kernel) against the scalar rows, NaNs among the inputs: a NaN
// tap makes the max NaN, as in the reference; channel counts with a vector tail.
TEST(max_pool_kernels_match_reference_with_nans) {
  uint32_t seed = 900;
  for (int64_t C : {5, 16, 37})
    for (const ConvGeom& base : {geom(1, 9, 8, 1, 1, 3, 3, 2, 1, 1, 1, 1, 1), geom(2, 7, 10, 1, 1, 2, 2, 2, 1, 0, 0, 0, 0)}) {
      ConvGeom g = base;
      g.C = g.OC = C;
      auto x = random_vector(static_cast<size_t>(g.N * g.H * g.W * C), seed++);
      for (size_t i = 0; i < x.size(); i += 23) x[i] = std::numeric_limits<float>::quiet_NaN();
      std::vector<float> want(static_cast<size_t>(g.rows() * C));
      sparq::max_pool_rows_ref(x.data(), g, want.data(), 0, g.N * g.OH);
      for (sparq::Isa isa : sparq::available_isas()) {
        sparq::OpContext ctx;
        ctx.isa = isa;
        auto y = nan_filled(want.size());
        sparq::max_pool_nhwc(x.data(), g, y.data(), nullptr, 0, ctx);
        int bad = 0;
        for (size_t i = 0; i < y.size(); ++i) bad += !(y[i] == want[i] || (std::isnan(y[i]) && std::isnan(want[i])));
        CHECK_MSG(bad == 0, "%s max pool C %lld: %d wrong", sparq::isa_name(isa), (long long)C, bad);
      }
    }
}

TEST(conv_rejects_mismatched_weights) {
  const ConvGeom g = geom(1, 5, 5, 3, 4, 3, 3, 1, 1, 1, 1, 1, 1);
  std::vector<float> W(static_cast<size_t>((g.K() + 1) * g.OC)), x(75), y(100);
  sparq::PackOptions opts;
  auto packed = sparq::pack_weights("dense", W.data(), g.K() + 1, g.OC, opts);
  bool threw = false;
  try {
    sparq::conv2d_nhwc(x.data(), g, *packed, nullptr, ConvPost{}, y.data(), 1);
  } catch (const std::exception&) {
    threw = true;
  }
  CHECK(threw);
}

TEST_MAIN()
