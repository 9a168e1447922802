// The '2:4' fp32 format: at most 2 nonzeros in every 4 consecutive k of each output (N:M
// semi-structured sparsity, as Ampere+ tensor cores take it). Values are stored in panels of 16
// outputs with 2-bit offsets (sparq/spmm_f32.h): 0.53x the dense bytes. Weights that break the pattern
// are rejected with ERR_INVALID_ARGUMENT (a RangeError in JS) naming the first offending output and k:
// prune with pattern '2:4' first, or use 'sparse'.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "sparq/aligned.h"
#include "sparq/error.h"
#include "sparq/packed.h"
#include "sparq/sparse_formats.h"
#include "sparq/spmm_f32.h"
#include "sparq/threadpool.h"

namespace sparq {

const Spmm24Kernels* spmm_24_kernels(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  switch (isa) {
    case Isa::avx512: return &kSpmm24Avx512;
    case Isa::avx2: return &kSpmm24Avx2;
    default: return &kSpmm24Scalar;
  }
#else
  (void)isa;
  return &kSpmm24Scalar;
#endif
}

namespace {

// First (n, g) whose group of 4 k holds more than 2 nonzeros, or false.
bool find_violation(const float* W, int64_t K, int64_t N, int64_t* bad_n, int64_t* bad_g) {
  const int64_t G = (K + 3) / 4;
  std::vector<uint8_t> count(static_cast<size_t>(N));
  for (int64_t g = 0; g < G; ++g) {
    std::fill(count.begin(), count.end(), 0);
    for (int64_t k = 4 * g; k < std::min(K, 4 * g + 4); ++k)
      for (int64_t n = 0; n < N; ++n) count[n] += W[k * N + n] != 0.0f;
    for (int64_t n = 0; n < N; ++n)
      if (count[n] > 2) {
        *bad_n = n;
        *bad_g = g;
        return true;
      }
  }
  return false;
}

class Sparse24 final : public PackedWeights {
 public:
  Sparse24(const float* W, int64_t K, int64_t N, Isa isa)
      : PackedWeights(K, N, isa), kernels_(spmm_24_kernels(isa)) {
    int64_t bad_n = 0, bad_g = 0;
    if (find_violation(W, K, N, &bad_n, &bad_g))
      throw invalid_argument("Expected at most 2 nonzeros in every 4 consecutive k of each output for W (format '2:4') "
                             "but received 3 or more at k " + std::to_string(4 * bad_g) + ".." +
                             std::to_string(std::min(K, 4 * bad_g + 4) - 1) + " of output " + std::to_string(bad_n) +
                             "; prune with pattern '2:4' first or use format 'sparse'");
    view_.K = K;
    view_.N = N;
    view_.G = (K + 3) / 4;
    view_.panels = (N + k24Panel - 1) / k24Panel;
    const int64_t slots = view_.panels * view_.G * 2;
    val_.resize(static_cast<size_t>(slots * k24Panel));
    sel_.resize(static_cast<size_t>(slots));
    for (int64_t p = 0; p < view_.panels; ++p)
      for (int64_t g = 0; g < view_.G; ++g)
        for (int j = 0; j < k24Panel; ++j) {
          const int64_t n = p * k24Panel + j;
          if (n >= N) break;
          int s = 0;
          for (int64_t k = 4 * g; k < std::min(K, 4 * g + 4); ++k) {
            const float v = W[k * N + n];
            if (v == 0.0f) continue;
            const int64_t slot = (p * view_.G + g) * 2 + s;
            val_[slot * k24Panel + j] = v;
            sel_[slot] |= static_cast<uint32_t>(k - 4 * g) << (2 * j);
            ++s;
            ++nonzeros_;
          }
        }
    view_.val = val_.data();
    view_.sel = sel_.data();
  }

  const char* format() const override { return "2:4"; }
  size_t bytes() const override { return sizeof(*this) + val_.bytes() + sel_.bytes(); }
  // Stored slots: half the weights (the pattern's fixed budget), whatever the zeros inside it.
  double density() const override { return 0.5; }
  void describe(std::vector<InfoEntry>& info) const override {
    info.push_back({"kernel", 0, kernels_->name, true});
    info.push_back({"nonzeros", static_cast<double>(nonzeros_), "", false});
  }

  void matmul(const float* x, int64_t M, float* y, const Epilogue& ep, int threads) const override {
    const int64_t K = this->K(), N = this->N();
    const int64_t Kp = view_.G * 4;
    const int t = threads_for_work(static_cast<double>(M) * K * N * 0.5, threads);
    // x rows must be readable as whole quads: copy when K isn't a multiple of 4.
    const float* xs = x;
    int64_t ldx = K;
    thread_local AlignedBuffer<float> padded;
    if (Kp != K) {
      float* p = padded.reserve(static_cast<size_t>(M * Kp));
      for (int64_t m = 0; m < M; ++m) {
        std::memcpy(p + m * Kp, x + m * K, sizeof(float) * static_cast<size_t>(K));
        std::memset(p + m * Kp + K, 0, sizeof(float) * static_cast<size_t>(Kp - K));
      }
      xs = p;
      ldx = Kp;
    }
    const int mr = kernels_->mr;
    // Panels in pairs across threads (the AVX-512 tile takes two at once); M tiles inside, so a
    // thread's panels stay in L2 while every row passes over them.
    const int64_t pairs = (view_.panels + 1) / 2;
    ThreadPool::global().parallel_for(pairs, t, (pairs + t - 1) / t, [&](int64_t q0, int64_t q1) {
      const int64_t p0 = 2 * q0, p1 = std::min(2 * q1, view_.panels);
      for (int64_t p = p0; p < p1; p += 2)
        for (int64_t m0 = 0; m0 < M; m0 += mr) {
          const int rows = static_cast<int>(std::min<int64_t>(mr, M - m0));
          kernels_->tile(view_, rows, xs + m0 * ldx, ldx, p, std::min(p + 2, p1), y + m0 * N, N, ep);
        }
    });
  }

 private:
  const Spmm24Kernels* kernels_;
  Sparse24View view_;
  int64_t nonzeros_ = 0;
  AlignedBuffer<float> val_;
  AlignedBuffer<uint32_t> sel_;
};

std::unique_ptr<PackedWeights> pack_24(const float* W, int64_t K, int64_t N, const PackOptions& opts) {
  return pack_sparse_24(W, K, N, opts.isa);
}

}  // namespace

bool fits_2_4(const float* W, int64_t K, int64_t N) {
  int64_t n, g;
  return !find_violation(W, K, N, &n, &g);
}

std::unique_ptr<PackedWeights> pack_sparse_24(const float* W, int64_t K, int64_t N, Isa isa) {
  return std::make_unique<Sparse24>(W, K, N, isa);
}

SPARQ_REGISTER_FORMAT(sparse_24, "2:4", pack_24);

}  // namespace sparq
