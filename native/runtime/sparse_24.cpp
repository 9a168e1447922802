// The '2:4' fp32 format: at most 2 nonzeros in every 4 consecutive k of each output (N:M
// semi-structured sparsity, as Ampere+ tensor cores take it). Values are stored in panels of 16
// outputs with 2-bit offsets (sparq/spmm_f32.h): 0.53x the dense bytes. Weights that break the pattern
// are rejected with ERR_INVALID_ARGUMENT (a RangeError in JS) naming the first offending output and k:
// prune with pattern '2:4' first, or use 'sparse'.
//
// Serialised (Sparse24::serialize, sparq/packed_serialize.h): the packed layout as it is, the same for
// every ISA, adopted with a copy and a check:
//   header 64 bytes: "S24F" u32 version u32 isa u32 panel (16) i64 K i64 N i64 nonzeros, zeros to 64
//   f32 values [panels · G · 2 · 16], u32 offsets [panels · G · 2] (2 bits per lane).
// Checked on the way in: in each group of 4 k of an output, stored values come first, in increasing k
// within K; empty slots hold +0 with offset 0; lanes past N are empty; the nonzero count matches.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "sparq/aligned.h"
#include "sparq/error.h"
#include "sparq/packed.h"
#include "sparq/packed_serialize.h"
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

constexpr uint32_t kSerialMagic = 0x46343253;  // "S24F"
constexpr uint32_t kSerialVersion = 1;
constexpr size_t kSerialHeader = 64;

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

  struct FromBytes {};
  Sparse24(FromBytes, const uint8_t* bytes, size_t size, int64_t K, int64_t N, Isa isa)
      : PackedWeights(K, N, isa), kernels_(spmm_24_kernels(isa)) {
    const char* fmt = "2:4";
    ByteReader r(bytes, size);
    read_signature(r, fmt, kSerialMagic, kSerialVersion);
    (void)r.get<uint32_t>();  // the ISA packed for: informational, every ISA reads this layout
    if (r.get<uint32_t>() != static_cast<uint32_t>(k24Panel)) invalid_packed(fmt, "their panel width is not the format's");
    if (r.get<int64_t>() != K || r.get<int64_t>() != N) invalid_packed(fmt, "their K, N differ from the weight's");
    const int64_t nonzeros = r.get<int64_t>();
    uint8_t pad[kSerialHeader - 40];
    r.get_bytes(pad, sizeof(pad));
    for (uint8_t b : pad)
      if (b != 0) invalid_packed(fmt, "their header's padding is not zero");
    view_.K = K;
    view_.N = N;
    view_.G = (K + 3) / 4;
    view_.panels = (N + k24Panel - 1) / k24Panel;
    const uint64_t slots = static_cast<uint64_t>(view_.panels) * static_cast<uint64_t>(view_.G) * 2;
    const uint64_t need = slots * (k24Panel * sizeof(float) + sizeof(uint32_t));
    if (r.left() != need) invalid_packed(fmt, "they are " + std::to_string(r.left()) + " bytes long where " + std::to_string(need) + " are expected (truncated?)");
    if (nonzeros < 0 || static_cast<uint64_t>(nonzeros) > slots * k24Panel) invalid_packed(fmt, "their nonzero count is impossible");
    val_.resize(static_cast<size_t>(slots * k24Panel));
    sel_.resize(static_cast<size_t>(slots));
    r.get_bytes(val_.data(), val_.bytes());
    r.get_bytes(sel_.data(), sel_.bytes());
    // Branch-free over integers, lane by lane (the values' bits: stored = any value but ±0, as the packer
    // keeps NaN/Inf and drops zeros; empty = +0 bits and offset 0). Lanes past N must be empty; offsets
    // are checked against K only in the last group (elsewhere all 4 lie within K).
    int64_t count = 0;
    uint32_t wrong = 0;
    const uint32_t* bits = reinterpret_cast<const uint32_t*>(val_.data());
    for (int64_t p = 0; p < view_.panels; ++p) {
      const uint32_t lanes = static_cast<uint32_t>(std::min<int64_t>(k24Panel, N - p * k24Panel));
      for (int64_t g = 0; g < view_.G; ++g) {
        const int64_t slot = (p * view_.G + g) * 2;
        const uint32_t* b0 = bits + slot * k24Panel;
        const uint32_t* b1 = b0 + k24Panel;
        const uint32_t s0 = sel_[static_cast<size_t>(slot)], s1 = sel_[static_cast<size_t>(slot + 1)];
        const uint32_t kmax = static_cast<uint32_t>(std::min<int64_t>(4, K - 4 * g));
        uint32_t off0[k24Panel], off1[k24Panel];
        for (int j = 0; j < k24Panel; ++j) {
          off0[j] = (s0 >> (2 * j)) & 3u;
          off1[j] = (s1 >> (2 * j)) & 3u;
        }
        int32_t stored = 0;
        for (uint32_t j = 0; j < static_cast<uint32_t>(k24Panel); ++j) {
          const uint32_t o0 = off0[j], o1 = off1[j];
          const uint32_t has0 = (b0[j] & 0x7fffffffu) != 0, has1 = (b1[j] & 0x7fffffffu) != 0;
          const uint32_t lane_ok = j < lanes;
          wrong |= (has0 & ((o0 >= kmax) | (lane_ok ^ 1u))) | ((has0 ^ 1u) & ((b0[j] | o0) != 0)) |
                   (has1 & ((has0 ^ 1u) | (o0 >= o1) | (o1 >= kmax))) | ((has1 ^ 1u) & ((b1[j] | o1) != 0));
          stored += static_cast<int32_t>(has0 + has1);
        }
        count += stored;
      }
    }
    if (wrong) invalid_packed(fmt, "a stored value lies out of its group's order or past K or N, or an empty slot is not empty");
    if (count != nonzeros) invalid_packed(fmt, "their nonzero count does not match their values");
    nonzeros_ = nonzeros;
    view_.val = val_.data();
    view_.sel = sel_.data();
  }

  bool serialize(std::vector<uint8_t>& out) const override {
    ByteWriter w(out);
    const size_t start = out.size();
    w.put(kSerialMagic);
    w.put(kSerialVersion);
    w.put(static_cast<uint32_t>(isa()));
    w.put(static_cast<uint32_t>(k24Panel));
    w.put(K());
    w.put(N());
    w.put(nonzeros_);
    while (out.size() - start < kSerialHeader) out.push_back(0);
    w.put_bytes(val_.data(), val_.bytes());
    w.put_bytes(sel_.data(), sel_.bytes());
    return true;
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

// Listed in packed_serialize.cpp (no static registrar: see there).
std::unique_ptr<PackedWeights> unpack_sparse_24(const uint8_t* bytes, size_t size, int64_t K, int64_t N, Isa isa) {
  return std::make_unique<Sparse24>(Sparse24::FromBytes{}, bytes, size, K, N, isa);
}

bool fits_2_4(const float* W, int64_t K, int64_t N) {
  int64_t n, g;
  return !find_violation(W, K, N, &n, &g);
}

std::unique_ptr<PackedWeights> pack_sparse_24(const float* W, int64_t K, int64_t N, Isa isa) {
  return std::make_unique<Sparse24>(W, K, N, isa);
}

SPARQ_REGISTER_FORMAT(sparse_24, "2:4", pack_24);

}  // namespace sparq
