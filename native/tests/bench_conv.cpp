// Conv kernel benchmark (no Node): each distinct conv shape of ResNet-18 and MobileNet-v2 at 224x224,
// one thread, best of N: the whole conv (im2col + packed GEMM + epilogue), and for kxk convs the
// GEMM alone on a ready im2col matrix, so the copy's share shows. GFLOP/s = 2·MACs / time.
//   build-tests/bench_conv [format [set [sparsity [block]]]]   (format: dense (default), int8, sparse,
//   sparse-int8, auto; set: shapes (default), mobilenet or resnet18 (every layer, with totals); weights
//   pruned at `sparsity` in blocks of `block` consecutive k)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "bench_timing.h"
#include "check.h"
#include "sparq/conv.h"

using namespace sparq_test;

namespace {

struct Shape {
  const char* name;
  int64_t H, C, OC, k, s;
  bool depthwise;
};

}  // namespace

int main(int argc, char** argv) {
  const std::string format = argc > 1 ? argv[1] : "dense";
  const Shape shapes[] = {
      {"r18 conv1 7x7/2", 224, 3, 64, 7, 2, false},  {"r18 l1 3x3", 56, 64, 64, 3, 1, false},
      {"r18 l2 3x3/2", 56, 64, 128, 3, 2, false},    {"r18 l2 3x3", 28, 128, 128, 3, 1, false},
      {"r18 l3 3x3", 14, 256, 256, 3, 1, false},     {"r18 l4 3x3", 7, 512, 512, 3, 1, false},
      {"r18 l4 1x1/2", 14, 256, 512, 1, 2, false},   {"mb2 1x1 16->96", 112, 16, 96, 1, 1, false},
      {"mb2 1x1 144->24", 56, 144, 24, 1, 1, false}, {"mb2 1x1 32->192", 28, 32, 192, 1, 1, false},
      {"mb2 1x1 960->160", 7, 960, 160, 1, 1, false}, {"mb2 dw 3x3 96/2", 112, 96, 96, 3, 2, true},
      {"mb2 dw 3x3 144", 56, 144, 144, 3, 1, true},  {"mb2 dw 3x3 960", 7, 960, 960, 3, 1, true},
  };
  // Every layer of MobileNet-v2 (224x224): stem, inverted residual blocks (t, c, n, s), last 1x1.
  std::vector<Shape> mb2;
  mb2.push_back({"mb2 stem 3x3/2", 224, 3, 32, 3, 2, false});
  int64_t H = 112, C = 32;
  const int64_t blocks[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  for (const auto& b : blocks)
    for (int64_t i = 0; i < b[2]; ++i) {
      const int64_t s = i == 0 ? b[3] : 1, hidden = C * b[0];
      if (b[0] != 1) mb2.push_back({"mb2 expand", H, C, hidden, 1, 1, false});
      mb2.push_back({"mb2 dw", H, hidden, hidden, 3, s, true});
      H = (H + 2 - 3) / s + 1;
      mb2.push_back({"mb2 project", H, hidden, b[1], 1, 1, false});
      C = b[1];
    }
  mb2.push_back({"mb2 last 1x1", 7, 320, 1280, 1, 1, false});
  const std::string set = argc > 2 ? argv[2] : "shapes";
  const bool whole = set == "mobilenet" || set == "resnet18";
  const double sparsity = argc > 3 ? std::atof(argv[3]) : 0.0;
  const int64_t block = argc > 4 ? std::atoll(argv[4]) : 1;
  std::vector<Shape> r18 = {{"r18 conv1 7x7/2", 224, 3, 64, 7, 2, false}};
  for (int i = 0; i < 4; ++i) r18.push_back({"r18 l1 3x3", 56, 64, 64, 3, 1, false});
  r18.push_back({"r18 l2 3x3/2", 56, 64, 128, 3, 2, false});
  r18.push_back({"r18 l2 1x1/2", 56, 64, 128, 1, 2, false});
  for (int i = 0; i < 3; ++i) r18.push_back({"r18 l2 3x3", 28, 128, 128, 3, 1, false});
  r18.push_back({"r18 l3 3x3/2", 28, 128, 256, 3, 2, false});
  r18.push_back({"r18 l3 1x1/2", 28, 128, 256, 1, 2, false});
  for (int i = 0; i < 3; ++i) r18.push_back({"r18 l3 3x3", 14, 256, 256, 3, 1, false});
  r18.push_back({"r18 l4 3x3/2", 14, 256, 512, 3, 2, false});
  r18.push_back({"r18 l4 1x1/2", 14, 256, 512, 1, 2, false});
  for (int i = 0; i < 3; ++i) r18.push_back({"r18 l4 3x3", 7, 512, 512, 3, 1, false});
  std::vector<Shape> list = set == "mobilenet" ? mb2 : set == "resnet18" ? r18 : std::vector<Shape>(std::begin(shapes), std::end(shapes));
  (void)whole;
  double total = 0, total_dw = 0;
  std::printf("%-20s %10s %10s %10s\n", "shape", "ms", "GFLOP/s", "gemm-only");
  for (const Shape& s : list) {
    sparq::ConvGeom g;
    g.H = g.W = s.H, g.C = s.C, g.OC = s.OC, g.kh = g.kw = s.k, g.sh = g.sw = s.s;
    g.pt = g.pl = g.pb = g.pr = s.k / 2;
    g.OH = g.OW = sparq::conv_out_size(s.H, s.k, s.s, 1, s.k / 2, s.k / 2, false);
    auto x = random_vector(static_cast<size_t>(g.H * g.W * g.C), 1);
    auto bias = random_vector(static_cast<size_t>(g.OC), 2);
    std::vector<float> y(static_cast<size_t>(g.rows() * g.OC));
    sparq::ConvPost post;
    // MobileNet-v2's convs end in Relu6 (a clip: the post pass), ResNet's in Relu (the GEMM's epilogue).
    post.act = set == "mobilenet" ? sparq::ConvAct::clip : sparq::ConvAct::relu;
    post.lo = 0.0f, post.hi = 6.0f;
    const int reps = 15;
    if (s.depthwise) {
      auto w = random_vector(static_cast<size_t>(g.kh * g.kw * g.OC), 3);
      sparq::OpContext ctx;
      const double t = best_seconds([&] { sparq::depthwise_nhwc(x.data(), g, 1, w.data(), bias.data(), post, y.data(), ctx); }, reps);
      std::printf("%-20s %10.3f %10.1f   (%lldx%lld c %lld)\n", s.name, t * 1e3, 2.0 * g.rows() * g.OC * g.kh * g.kw / t * 1e-9, (long long)s.H, (long long)s.H, (long long)s.C);
      total_dw += t;
      continue;
    }
    auto W = random_vector(static_cast<size_t>(g.K() * g.OC), 3);
    if (sparsity > 0) {
      // Pruned: whole blocks of `block` consecutive k (input channels of one tap) zeroed at random.
      std::mt19937 rng(5);
      std::uniform_real_distribution<double> u(0, 1);
      for (int64_t k = 0; k < g.K(); k += block)
        for (int64_t n = 0; n < g.OC; ++n)
          if (u(rng) < sparsity)
            for (int64_t j = k; j < std::min(g.K(), k + block); ++j) W[static_cast<size_t>(j * g.OC + n)] = 0.0f;
    }
    sparq::PackOptions opts;
    auto packed = sparq::pack_weights(format, W.data(), g.K(), g.OC, opts);
    const double t = best_seconds([&] { sparq::conv2d_nhwc(x.data(), g, *packed, bias.data(), post, y.data(), 1); }, reps);
    if (std::getenv("BENCH_CONV_RELU")) {
      sparq::ConvPost relu;
      relu.act = sparq::ConvAct::relu;
      const double tr = best_seconds([&] { sparq::conv2d_nhwc(x.data(), g, *packed, bias.data(), relu, y.data(), 1); }, reps);
      std::printf("  relu instead: %.3f ms\n", tr * 1e3);
    }
    std::vector<float> col(static_cast<size_t>(g.rows() * g.K()));
    sparq::im2col_nhwc(x.data(), g, 0, g.rows(), col.data());
    sparq::Epilogue ep;
    ep.bias = bias.data();
    ep.act = sparq::Activation::relu;
    const double tg = best_seconds([&] { packed->matmul(col.data(), g.rows(), y.data(), ep, 1); }, reps);
    const double flops = 2.0 * g.rows() * g.K() * g.OC;
    std::printf("%-20s %10.3f %10.1f %10.1f   (%lldx%lld %lld->%lld)\n", s.name, t * 1e3, flops / t * 1e-9, flops / tg * 1e-9, (long long)s.H, (long long)s.H, (long long)s.C, (long long)s.OC);
    total += t;
  }
  std::printf("total: conv %.2f ms, depthwise %.2f ms\n", total * 1e3, total_dw * 1e3);
  return 0;
}
