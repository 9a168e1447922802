// The 'sparse' (unstructured) and 'block' (1x4 along K, 4x1 / 8x1 / 16x1 along N) fp32 formats: W
// stored as grouped CSC (sparq/spmm_f32.h) and the driver that picks the row or the xt kernel, packs x
// (transposed per M tile for xt), and splits the output columns over threads.
#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "sparq/aligned.h"
#include "sparq/error.h"
#include "sparq/gemm_f32.h"
#include "sparq/packed.h"
#include "sparq/packed_serialize.h"
#include "sparq/sparse_formats.h"
#include "sparq/spmm_f32.h"
#include "sparq/threadpool.h"

namespace sparq {

const SpmmF32Kernels* spmm_f32_kernels(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  switch (isa) {
    case Isa::avx512: return &kSpmmF32Avx512;
    case Isa::avx2: return &kSpmmF32Avx2;
    default: return &kSpmmF32Scalar;
  }
#else
  (void)isa;
  return &kSpmmF32Scalar;
#endif
}

namespace {

// Serialised layout (GroupedCsc::serialize): signature "SPF3", version.
constexpr uint32_t kSerialMagic = 0x33465053;
constexpr uint32_t kSerialVersion = 1;

class GroupedCsc final : public PackedWeights {
 public:
  GroupedCsc(const float* W, int64_t K, int64_t N, int C, int L, const char* format, Isa isa)
      : PackedWeights(K, N, isa), format_(format), kernels_(spmm_f32_kernels(isa)) {
    if (K > kSparseMaxK)
      throw invalid_argument("Expected K <= " + std::to_string(kSparseMaxK) + " for format '" + format +
                             "' (16-bit k indices) but received " + std::to_string(K) + "; use 'dense' or 'int8'");
    view_.C = C;
    view_.L = L;
    view_.K = K;
    view_.N = N;
    view_.groups = (N + C - 1) / C;
    const int64_t kblocks = (K + L - 1) / L;
    // Pass 1: entries per group (a block is kept when any of its C x L weights is nonzero).
    ptr_.resize(static_cast<size_t>(view_.groups + 1));
    std::vector<uint32_t> count(static_cast<size_t>(view_.groups), 0);
    auto block_nonzero = [&](int64_t kb, int64_t g) {
      for (int l = 0; l < L; ++l) {
        const int64_t k = kb * L + l;
        if (k >= K) break;
        for (int c = 0; c < C; ++c) {
          const int64_t n = g * C + c;
          if (n >= N) break;
          if (W[k * N + n] != 0.0f) return true;
        }
      }
      return false;
    };
    uint64_t total = 0;
    for (int64_t kb = 0; kb < kblocks; ++kb)
      for (int64_t g = 0; g < view_.groups; ++g)
        if (block_nonzero(kb, g)) ++count[g];
    for (int64_t g = 0; g < view_.groups; ++g) {
      ptr_[g] = static_cast<uint32_t>(total);
      total += count[g];
      if (total > 0xffffffffull / static_cast<uint64_t>(C * L))
        throw invalid_argument("Expected fewer than 2^32 stored values for format '" + std::string(format) +
                               "' but received more");
    }
    ptr_[view_.groups] = static_cast<uint32_t>(total);
    entries_ = static_cast<int64_t>(total);
    idx_.resize(static_cast<size_t>(entries_ + kSpmmReadAhead));  // the row kernels read whole vectors past a range
    val_.resize(static_cast<size_t>(entries_ * C * L + kSpmmReadAhead));
    // Pass 2: fill, k increasing within each group.
    std::vector<uint32_t> pos(ptr_.data(), ptr_.data() + view_.groups);
    for (int64_t kb = 0; kb < kblocks; ++kb)
      for (int64_t g = 0; g < view_.groups; ++g) {
        if (!block_nonzero(kb, g)) continue;
        const uint32_t e = pos[g]++;
        idx_[e] = static_cast<uint16_t>(kb * L);
        for (int l = 0; l < L; ++l)
          for (int c = 0; c < C; ++c) {
            const int64_t k = kb * L + l, n = g * C + c;
            const float v = (k < K && n < N) ? W[k * N + n] : 0.0f;
            val_[(static_cast<int64_t>(e) * L + l) * C + c] = v;
            if (v != 0.0f) ++nonzeros_;
          }
      }
    set_view();
  }

  // From GroupedCsc::serialize's bytes (sparq/packed_serialize.h), every count and index checked.
  struct FromBytes {};
  GroupedCsc(FromBytes, const uint8_t* bytes, size_t size, int64_t K, int64_t N, const char* format, Isa isa)
      : PackedWeights(K, N, isa), format_(format), kernels_(spmm_f32_kernels(isa)) {
    ByteReader r(bytes, size);
    if (r.get<uint32_t>() != kSerialMagic) invalid_packed(format, "its bytes do not start with the format's signature");
    const uint32_t version = r.get<uint32_t>();
    if (version != kSerialVersion) invalid_packed(format, "they are of version " + std::to_string(version) + ", not " + std::to_string(kSerialVersion));
    const int32_t C = r.get<int32_t>(), L = r.get<int32_t>();
    const bool sparse = std::string(format) == "sparse";
    const bool shape_ok = sparse ? (C == 1 && L == 1) : ((C == 1 && L == 4) || (L == 1 && (C == 4 || C == 8 || C == 16)));
    if (!shape_ok) invalid_packed(format, "their block shape is not one the format has");
    if (r.get<int64_t>() != K || r.get<int64_t>() != N) invalid_packed(format, "their K, N differ from the weight's");
    if (K > kSparseMaxK) invalid_packed(format, "K exceeds the format's 16-bit indices");
    view_.C = C;
    view_.L = L;
    view_.K = K;
    view_.N = N;
    view_.groups = (N + C - 1) / C;
    entries_ = r.get<int64_t>();
    const int64_t kblocks = (K + L - 1) / L;
    if (entries_ < 0 || entries_ > view_.groups * kblocks) invalid_packed(format, "their entry count is impossible");
    const uint64_t need = static_cast<uint64_t>(view_.groups + 1) * 4 + static_cast<uint64_t>(entries_) * 2 +
                          static_cast<uint64_t>(entries_) * static_cast<uint64_t>(C * L) * 4;
    if (static_cast<uint64_t>(r.left()) < need) invalid_packed(format, "the data ends early (truncated)");
    ptr_.resize(static_cast<size_t>(view_.groups + 1));
    idx_.resize(static_cast<size_t>(entries_ + kSpmmReadAhead));  // the row kernels read whole vectors past a range
    val_.resize(static_cast<size_t>(entries_ * C * L + kSpmmReadAhead));
    r.get_bytes(ptr_.data(), sizeof(uint32_t) * static_cast<size_t>(view_.groups + 1));
    r.get_bytes(idx_.data(), sizeof(uint16_t) * static_cast<size_t>(entries_));
    r.align(4);
    r.get_bytes(val_.data(), sizeof(float) * static_cast<size_t>(entries_ * C * L));
    if (r.left() != 0) invalid_packed(format, "they carry " + std::to_string(r.left()) + " bytes too many");
    if (ptr_[0] != 0 || ptr_[view_.groups] != static_cast<uint32_t>(entries_)) invalid_packed(format, "their group pointers do not span the entries");
    if (C == 1 && L == 1) {
      // Unstructured (the big case at load): the pointers first (the entry pass reads whatever they span
      // without stopping at a bad index), then one branch-free pass over the entries; every value lies
      // inside the matrix once its index is below K.
      for (int64_t g = 0; g < view_.groups; ++g)
        if (ptr_[g + 1] < ptr_[g]) invalid_packed(format, "their group pointers decrease");
      int bad = 0;
      int64_t nonzeros = 0;
      for (int64_t g = 0; g < view_.groups; ++g) {
        int last = -1;
        for (uint32_t e = ptr_[g]; e < ptr_[g + 1]; ++e) {
          const int k = idx_[e];
          bad |= (k >= K) | (k <= last);
          last = k;
          nonzeros += val_[e] != 0.0f;
        }
      }
      if (bad) invalid_packed(format, "an entry index is out of range or out of order");
      nonzeros_ = nonzeros;
      set_view();
      return;
    }
    for (int64_t g = 0; g < view_.groups; ++g) {
      if (ptr_[g + 1] < ptr_[g]) invalid_packed(format, "their group pointers decrease");
      int64_t last = -1;
      for (uint32_t e = ptr_[g]; e < ptr_[g + 1]; ++e) {
        const int64_t k0 = idx_[e];
        if (k0 % L != 0 || k0 >= K || k0 <= last) invalid_packed(format, "an entry index is out of range or out of order");
        last = k0;
        for (int l = 0; l < L; ++l)
          for (int c = 0; c < C; ++c) {
            const float v = val_[(static_cast<int64_t>(e) * L + l) * C + c];
            if ((k0 + l >= K || g * C + c >= N) && v != 0.0f) invalid_packed(format, "a value lies outside the matrix");
            if (v != 0.0f) ++nonzeros_;
          }
      }
    }
    set_view();
  }

  bool serialize(std::vector<uint8_t>& out) const override {
    ByteWriter w(out);
    w.put(kSerialMagic);
    w.put(kSerialVersion);
    w.put(static_cast<int32_t>(view_.C));
    w.put(static_cast<int32_t>(view_.L));
    w.put(K());
    w.put(N());
    w.put(entries_);
    w.put_bytes(ptr_.data(), sizeof(uint32_t) * static_cast<size_t>(view_.groups + 1));
    w.put_bytes(idx_.data(), sizeof(uint16_t) * static_cast<size_t>(entries_));
    w.align(4);
    w.put_bytes(val_.data(), sizeof(float) * static_cast<size_t>(entries_ * view_.C * view_.L));
    return true;
  }

  const char* format() const override { return format_; }
  size_t bytes() const override { return sizeof(*this) + ptr_.bytes() + wptr_.bytes() + idx_.bytes() + val_.bytes(); }
  double density() const override {
    return static_cast<double>(entries_) * view_.C * view_.L / (static_cast<double>(K()) * N());
  }
  void describe(std::vector<InfoEntry>& info) const override {
    info.push_back({"kernel", 0, std::string(kernels_->name) + "_csc", true});
    info.push_back({"block", 0, std::to_string(view_.C) + "x" + std::to_string(view_.L), true});
    info.push_back({"nonzeros", static_cast<double>(nonzeros_), "", false});
    info.push_back({"storedValues", static_cast<double>(entries_ * view_.C * view_.L), "", false});
  }

  void matmul(const float* x, int64_t M, float* y, const Epilogue& ep, int threads) const override {
    const int64_t K = this->K(), N = this->N();
    const int L = view_.L;
    const int64_t Kp = (K + L - 1) / L * L;
    const double work = static_cast<double>(M) * static_cast<double>(entries_) * view_.C * L;
    const int t = threads_for_work(work, threads);
    const int64_t GB = std::max(1, kernels_->batch_cols(view_.C) / view_.C);
    const int64_t batches = (view_.groups + GB - 1) / GB;
    const int64_t grain = (batches + t - 1) / t;
    ThreadPool& pool = ThreadPool::global();

    if (M < kXtMinRows) {
      const SparseF32View* rows_view = &view_;
      if (view_.C == 1 && view_.L == 1) {
        std::call_once(windows_once_, [this] {
          windows_ = view_;
          build_windows();
        });
        rows_view = &windows_;
      }
      thread_local AlignedBuffer<float> padded;
      for (int64_t m = 0; m < M; ++m) {
        const float* row = x + m * K;
        if (Kp != K) {
          float* p = padded.reserve(static_cast<size_t>(Kp));
          std::memcpy(p, row, sizeof(float) * static_cast<size_t>(K));
          std::memset(p + K, 0, sizeof(float) * static_cast<size_t>(Kp - K));
          row = p;
        }
        pool.parallel_for(batches, t, grain, [&](int64_t b0, int64_t b1) {
          kernels_->rows(*rows_view, row, b0 * GB, std::min(b1 * GB, view_.groups), y + m * N, ep);
        });
      }
      return;
    }

    const int64_t MT = kernels_->xt_rows(view_.C, L, M);
    const int64_t tiles = (M + MT - 1) / MT;
    const int64_t tile_floats = Kp * MT;
    thread_local AlignedBuffer<float> xt_buffer;
    float* xt = xt_buffer.reserve(static_cast<size_t>(tiles * tile_floats));
    pool.parallel_for(tiles, t, std::max<int64_t>(1, (tiles + t - 1) / t), [&](int64_t t0, int64_t t1) {
      for (int64_t tile = t0; tile < t1; ++tile) {
        float* dst = xt + tile * tile_floats;
        const int64_t m0 = tile * MT, rows = std::min(MT, M - m0);
        if (rows < MT || Kp != K) std::memset(dst, 0, sizeof(float) * static_cast<size_t>(tile_floats));
        gemm_f32_kernels(isa())->pack_a(x + m0 * K, K, static_cast<int>(rows), K, dst, MT);  // k-major tile
      }
    });
    pool.parallel_for(batches, t, grain, [&](int64_t b0, int64_t b1) {
      const int64_t g0 = b0 * GB, g1 = std::min(b1 * GB, view_.groups);
      for (int64_t tile = 0; tile < tiles; ++tile) {
        const int64_t m0 = tile * MT;
        kernels_->xt(view_, xt + tile * tile_floats, static_cast<int>(MT), static_cast<int>(std::min(MT, M - m0)), g0, g1, y + m0 * N, N, ep);
      }
    });
  }

 private:
  const char* format_;
  const SpmmF32Kernels* kernels_;
  SparseF32View view_;
  int64_t entries_ = 0, nonzeros_ = 0;
  void set_view() {
    view_.ptr = ptr_.data();
    view_.idx = idx_.data();
    view_.val = val_.data();
  }
  // For unstructured weights (C = L = 1): where each output's entries cross every 64-k window of x (the
  // AVX-512 row kernel's unit). Built from the entries at the first small-M call (call_once: safe under
  // concurrent calls), so loading a model pays nothing for it; never serialised.
  void build_windows() const {
    windows_.windows = (view_.K + kSpmmWindow - 1) / kSpmmWindow;
    wptr_.resize(static_cast<size_t>(view_.groups * windows_.windows + 1));
    for (int64_t g = 0; g < view_.groups; ++g) {
      uint32_t e = ptr_[g];
      for (int64_t c = 0; c < windows_.windows; ++c) {
        wptr_[g * windows_.windows + c] = e;
        while (e < ptr_[g + 1] && idx_[e] < (c + 1) * kSpmmWindow) ++e;
      }
    }
    wptr_[view_.groups * windows_.windows] = ptr_[view_.groups];
    windows_.window_ptr = wptr_.data();
  }

  AlignedBuffer<uint32_t> ptr_;
  mutable std::once_flag windows_once_;
  mutable SparseF32View windows_;  // view_ plus the window table, once built
  mutable AlignedBuffer<uint32_t> wptr_;
  AlignedBuffer<uint16_t> idx_;
  AlignedBuffer<float> val_;
};

std::unique_ptr<PackedWeights> pack_sparse(const float* W, int64_t K, int64_t N, const PackOptions& opts) {
  return pack_grouped_csc(W, K, N, 1, 1, "sparse", opts.isa);
}

std::unique_ptr<PackedWeights> pack_block(const float* W, int64_t K, int64_t N, const PackOptions& opts) {
  const std::string block = opts.string("block", "1x4");
  int C, L;
  if (block == "1x4") {
    C = 1, L = 4;
  } else if (block == "4x1") {
    C = 4, L = 1;
  } else if (block == "8x1") {
    C = 8, L = 1;
  } else if (block == "16x1") {
    C = 16, L = 1;
  } else {
    throw invalid_argument("Expected one of '1x4', '4x1', '8x1', '16x1' for options.block but received '" + block + "'");
  }
  return pack_grouped_csc(W, K, N, C, L, "block", opts.isa);
}

}  // namespace

std::unique_ptr<PackedWeights> pack_grouped_csc(const float* W, int64_t K, int64_t N, int C, int L, const char* format,
                                                Isa isa) {
  return std::make_unique<GroupedCsc>(W, K, N, C, L, format, isa);
}

SPARQ_REGISTER_FORMAT(sparse, "sparse", pack_sparse);
SPARQ_REGISTER_FORMAT(block, "block", pack_block);

// Listed in packed_serialize.cpp (no static registrar: see there).
std::unique_ptr<PackedWeights> unpack_sparse(const uint8_t* bytes, size_t size, int64_t K, int64_t N, Isa isa) {
  return std::make_unique<GroupedCsc>(GroupedCsc::FromBytes{}, bytes, size, K, N, "sparse", isa);
}

std::unique_ptr<PackedWeights> unpack_block(const uint8_t* bytes, size_t size, int64_t K, int64_t N, Isa isa) {
  return std::make_unique<GroupedCsc>(GroupedCsc::FromBytes{}, bytes, size, K, N, "block", isa);
}

}  // namespace sparq
