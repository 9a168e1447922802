// The 'auto' format: the fastest exact (fp32) format for this matrix on this CPU. The candidates are
// 'dense' and every sparse format the zeros allow without much zero fill ('sparse'; 'block' shapes
// whose stored values stay within 1.25x the nonzeros; '2:4' when the pattern fits). Above 60% density
// dense wins everywhere measured (the sparse kernels need ~2x the work per stored value), so it is
// chosen without measuring; otherwise each candidate is packed and timed once, one thread, at M = 1 and
// M = 32 (best of 3), and the one with the smallest geometric mean of its time relative to dense wins.
// The handle reports the chosen format as its format and the measurements as `reason`.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "sparq/packed.h"
#include "sparq/sparse_formats.h"

namespace sparq {
namespace {

constexpr double kDenseAbove = 0.6;

double best_time(const PackedWeights& w, const std::vector<float>& x, int64_t M, std::vector<float>& y) {
  double best = 1e30;
  for (int r = 0; r < 4; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    w.matmul(x.data(), M, y.data(), {}, 1);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0 && dt < best) best = dt;  // the first run warms caches
  }
  return best;
}

class AutoFormat final : public PackedWeights {
 public:
  AutoFormat(std::unique_ptr<PackedWeights> chosen, std::string reason)
      : PackedWeights(chosen->K(), chosen->N(), chosen->isa()), inner_(std::move(chosen)), reason_(std::move(reason)) {}
  const char* format() const override { return inner_->format(); }
  size_t bytes() const override { return inner_->bytes() + sizeof(*this); }
  double density() const override { return inner_->density(); }
  void describe(std::vector<InfoEntry>& info) const override {
    inner_->describe(info);
    info.push_back({"requested", 0, "auto", true});
    info.push_back({"reason", 0, reason_, true});
  }
  void matmul(const float* x, int64_t M, float* y, const Epilogue& ep, int threads) const override {
    inner_->matmul(x, M, y, ep, threads);
  }

 private:
  std::unique_ptr<PackedWeights> inner_;
  std::string reason_;
};

std::string fixed(double v, int digits = 2) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

std::unique_ptr<PackedWeights> pack_auto(const float* W, int64_t K, int64_t N, const PackOptions& opts) {
  int64_t nonzeros = 0;
  for (int64_t i = 0; i < K * N; ++i) nonzeros += W[i] != 0.0f;
  const double density = static_cast<double>(nonzeros) / (static_cast<double>(K) * N);
  PackOptions dense_opts = opts;
  auto dense = pack_weights("dense", W, K, N, dense_opts);
  if (density > kDenseAbove || K > kSparseMaxK)
    return std::make_unique<AutoFormat>(
        std::move(dense), "dense: density " + fixed(density) + (K > kSparseMaxK ? " and K above the sparse formats' limit" : " is above 0.6, where no sparse format beats dense here"));

  struct Candidate {
    std::string name;
    std::unique_ptr<PackedWeights> w;
    double t1 = 0, t32 = 0, score = 1;
  };
  std::vector<Candidate> cands;
  cands.push_back({"dense", std::move(dense)});
  cands.push_back({"sparse", pack_grouped_csc(W, K, N, 1, 1, "sparse", opts.isa)});
  const struct { int C, L; const char* name; } blocks[] = {{1, 4, "block 1x4"}, {4, 1, "block 4x1"}, {8, 1, "block 8x1"}, {16, 1, "block 16x1"}};
  for (auto& b : blocks) {
    auto w = pack_grouped_csc(W, K, N, b.C, b.L, "block", opts.isa);
    if (w->density() * static_cast<double>(K) * N <= 1.25 * static_cast<double>(nonzeros) + 16) cands.push_back({b.name, std::move(w)});
  }
  if (fits_2_4(W, K, N)) cands.push_back({"2:4", pack_sparse_24(W, K, N, opts.isa)});

  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(32 * K)), y(static_cast<size_t>(32 * N));
  for (auto& v : x) v = dist(rng);
  for (auto& c : cands) {
    c.t1 = best_time(*c.w, x, 1, y);
    c.t32 = best_time(*c.w, x, 32, y);
  }
  size_t best = 0;
  for (size_t i = 0; i < cands.size(); ++i) {
    cands[i].score = std::sqrt((cands[i].t1 / cands[0].t1) * (cands[i].t32 / cands[0].t32));
    if (cands[i].score < cands[best].score) best = i;
  }
  std::string reason = cands[best].name + ": density " + fixed(density) + "; measured time vs dense at M=1 / M=32:";
  for (auto& c : cands) reason += " " + c.name + " " + fixed(c.t1 / cands[0].t1) + "/" + fixed(c.t32 / cands[0].t32) + ";";
  reason.pop_back();
  return std::make_unique<AutoFormat>(std::move(cands[best].w), reason);
}

}  // namespace

SPARQ_REGISTER_FORMAT(sparse_auto, "auto", pack_auto);

}  // namespace sparq
