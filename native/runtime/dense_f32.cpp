// The "dense" format: fp32 weights packed into column panels for the dispatch table's microkernel,
// and the blocked GEMM driver around it (A packed per K block, B panels reused across M tiles).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "sparq/aligned.h"
#include "sparq/error.h"
#include "sparq/gemm_f32.h"
#include "sparq/packed.h"
#include "sparq/threadpool.h"

namespace sparq {

const GemmF32Kernels* gemm_f32_kernels(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  switch (isa) {
    case Isa::avx512: return &kGemmF32Avx512;
    case Isa::avx2: return &kGemmF32Avx2;
    default: return &kGemmF32Scalar;
  }
#else
  (void)isa;
  return &kGemmF32Scalar;
#endif
}

namespace {

// K block: the A block (M x kc) stays in L2 and one panel slice (kc x nr) in L1 across M tiles.
// SPARQ_GEMM_KC overrides it for tuning.
// Chunks per thread for parallel_for: a caller out of chunks waits for the ones workers hold, so
// halves would cost the whole other half when a worker is kept off its core after taking its chunk (a
// busy host; another runtime's pool spinning in the process). With four per thread the caller takes
// over what a late worker has not started, and waits at most for one quarter-share in flight.
constexpr int64_t kChunksPerThread = 4;
// Below this many panels per thread a GEMM splits its work along M as well (see DenseF32::gemm).
constexpr int64_t kNarrowPanelsPerThread = 8;
int64_t grain_for(int64_t n, int threads) {
  const int64_t chunks = std::max<int64_t>(1, threads) * kChunksPerThread;
  return std::max<int64_t>(1, (n + chunks - 1) / chunks);
}

// Whether `rows` rows of A, `K` floats apart, can be read in place by a register tile: not when more
// than 2 of them fall in one L1 set (64 sets of 64-byte lines on Zen 4 and recent Intel cores; 8-12
// ways, shared with the panel and C). K = 3072 puts all 12 rows of a tile in one set (12 KB apart):
// 128 x 3072 x 768 ran 10% slower in place than packed, K = 3000 4% faster; K = 768 (3 rows a set)
// 1-3% slower in place. LeNet's K = 784, 300 and 100 put each row in a set of its own.
bool a_in_place(int64_t K, int rows) {
  int per_set[64] = {0};
  const int64_t line_step = K * static_cast<int64_t>(sizeof(float));
  for (int i = 0; i < rows; ++i)
    if (++per_set[(i * line_step / 64) % 64] > 2) return false;
  return true;
}

int64_t choose_kc(int64_t K) {
  static const int64_t forced = [] {
    const char* env = std::getenv("SPARQ_GEMM_KC");
    return env ? std::atoll(env) : 0LL;
  }();
  const int64_t target = forced > 0 ? forced : 256;
  if (K <= target + target / 2) return K;
  const int64_t blocks = (K + target - 1) / target;
  return (K + blocks - 1) / blocks;
}

class DenseF32 final : public PackedWeights {
 public:
  // W: K·N little-endian fp32 values as bytes, at any alignment (rows are copied with memcpy).
  DenseF32(const unsigned char* W, int64_t K, int64_t N, Isa isa)
      : PackedWeights(K, N, isa), kernels_(gemm_f32_kernels(isa)), nr_(kernels_->nr) {
    panels_ = (N + nr_ - 1) / nr_;
    data_.resize(static_cast<size_t>(panels_ * K * nr_));
    for (int64_t k = 0; k < K; ++k) {
      const unsigned char* src = W + k * N * sizeof(float);
      for (int64_t p = 0; p < panels_; ++p) {
        const int64_t n0 = p * nr_, cols = std::min<int64_t>(nr_, N - n0);
        std::memcpy(data_.data() + (p * K + k) * nr_, src + n0 * sizeof(float), sizeof(float) * static_cast<size_t>(cols));
      }
    }
  }

  const char* format() const override { return "dense"; }
  size_t bytes() const override { return data_.bytes() + sizeof(*this); }
  void describe(std::vector<InfoEntry>& info) const override {
    info.push_back({"kernel", 0, kernels_->name, true});
  }

  void matmul(const float* x, int64_t M, float* y, const Epilogue& ep, int threads) const override {
    const int64_t K = this->K(), N = this->N();
    const int t = threads_for_work(static_cast<double>(M) * K * N, threads);
    if (M == 1) {
      ThreadPool::global().parallel_for(panels_, t, grain_for(panels_, t), [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) {
          const int64_t n0 = p * nr_;
          kernels_->gemv(K, static_cast<int>(std::min<int64_t>(nr_, N - n0)), x, panel(p), y + n0, ep, n0);
        }
      });
      return;
    }
    gemm(x, M, y, ep, t);
  }

  const float* dense_panels(int64_t* nr) const override {
    *nr = nr_;
    return data_.data();
  }

 private:
  const float* panel(int64_t p) const { return data_.data() + p * K() * nr_; }

  void gemm(const float* x, int64_t M, float* y, const Epilogue& ep, int threads) const {
    const int64_t K = this->K(), N = this->N();
    const int mr = kernels_->mr;
    const int64_t kc = choose_kc(K);
    const int64_t tiles = (M + mr - 1) / mr;

    // A read in place where the rows don't alias in L1, else packed (one pass per call) for the tile.
    // In place, LeNet-300-100's layers at batch 256 on two threads: 784x300 7% faster, 300x100 25%.
    const bool in_place = kernels_->tile_a && a_in_place(K, std::min<int>(mr, static_cast<int>(M)));
    // A packed once per call: for each K block, each M tile as rows-interleaved k-major floats.
    thread_local AlignedBuffer<float> a_buffer;
    float* a_packed = in_place ? nullptr : a_buffer.reserve(static_cast<size_t>(M * K));
    if (!in_place) ThreadPool::global().parallel_for(tiles, threads, grain_for(tiles, threads), [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t m0 = t * mr, rows = std::min<int64_t>(mr, M - m0);
        for (int64_t k0 = 0; k0 < K; k0 += kc) {
          const int64_t kb = std::min(kc, K - k0);
          kernels_->pack_a(x + m0 * K + k0, K, static_cast<int>(rows), kb, a_packed + k0 * M + m0 * kb, rows);
        }
      }
    });

    // Panel p's M tiles [t0, t1) at the K block starting at k0: C accumulates over the K blocks, the
    // epilogue runs with the last.
    const auto block = [&](int64_t p, int64_t k0, int64_t t0, int64_t t1) {
      const int64_t n0 = p * nr_, kb = std::min(kc, K - k0);
      const int cols = static_cast<int>(std::min<int64_t>(nr_, N - n0));
      const float* b = panel(p) + k0 * nr_;
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t m0 = t * mr;
        const int rows = static_cast<int>(std::min<int64_t>(mr, M - m0));
        if (in_place)
          kernels_->tile_a(rows, cols, kb, x + m0 * K + k0, K, b, y + m0 * N + n0, N, k0 > 0, k0 + kb >= K ? &ep : nullptr, n0);
        else
          kernels_->tile(rows, cols, kb, a_packed + k0 * M + m0 * kb, b, y + m0 * N + n0, N, k0 > 0, k0 + kb >= K ? &ep : nullptr, n0);
      }
    };

    // A narrow layer has too few panels to share evenly (LeNet's 300 columns: 10 panels of 32, five chunks
    // of two, 3:2 between two threads, so the second core bought 1.67x at best): its work is split along
    // M too, into items of one panel and a run of M tiles, handed out one at a time.
    if (threads > 1 && panels_ < threads * kNarrowPanelsPerThread && tiles > 1) {
      const int64_t parts = std::min(tiles, (threads * kNarrowPanelsPerThread + panels_ - 1) / panels_);
      const int64_t per = (tiles + parts - 1) / parts, runs = (tiles + per - 1) / per;
      ThreadPool::global().parallel_for(panels_ * runs, threads, 1, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          const int64_t p = i / runs, t0 = (i % runs) * per;
          for (int64_t k0 = 0; k0 < K; k0 += kc) block(p, k0, t0, std::min(tiles, t0 + per));
        }
      });
      return;
    }

    const int64_t grain = grain_for(panels_, threads);
    // Columns are taken in groups of ~256 so the C block they accumulate into stays in L2 across the
    // K blocks (a wide N, e.g. 3072 at M = 128, would otherwise stream all of C through L3 per K block).
    const int64_t group = std::max<int64_t>(1, 256 / nr_);
    ThreadPool::global().parallel_for(panels_, threads, grain, [&](int64_t c0, int64_t c1) {
      for (int64_t g0 = c0; g0 < c1; g0 += group) {
        const int64_t g1 = std::min(c1, g0 + group);
        for (int64_t k0 = 0; k0 < K; k0 += kc)
          for (int64_t p = g0; p < g1; ++p) block(p, k0, 0, tiles);
      }
    });
  }

  const GemmF32Kernels* kernels_;
  int64_t nr_;
  int64_t panels_ = 0;
  AlignedBuffer<float> data_;
};

std::unique_ptr<PackedWeights> pack_dense(const float* W, int64_t K, int64_t N, const PackOptions& opts) {
  return std::make_unique<DenseF32>(reinterpret_cast<const unsigned char*>(W), K, N, opts.isa);
}

// A weight at an odd offset in a mapped ONNX file packs straight from the file: no aligned copy.
std::unique_ptr<PackedWeights> pack_dense_bytes(const unsigned char* W, int64_t K, int64_t N, const PackOptions& opts) {
  return std::make_unique<DenseF32>(W, K, N, opts.isa);
}

}  // namespace

SPARQ_REGISTER_FORMAT(dense, "dense", pack_dense);
SPARQ_REGISTER_BYTES_PACKER(dense, "dense", pack_dense_bytes);

}  // namespace sparq
