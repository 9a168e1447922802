// The 'sparse-int8' format: s8 weights in 1x4 blocks along K with per-output scales, u8 activations
// quantized per row at call time (sparq/quantize.h, shared with the 'int8' format), exact s32
// accumulation and the dequantizing epilogue (sparq/spmm_int8.h). Weights are quantized exactly as
// the 'int8' format does (pack_int8_weights: symmetric, round half to even; 7-bit on the AVX2 path);
// a block is kept when any of its 4 codes is nonzero (stored compressed: its nonzero codes and a 4-bit
// mask), so memory follows the values but the work follows the density of blocks: about 34% of blocks survive 90% random unstructured sparsity, 10% survive 90% 1x4 block
// pruning. K is limited to 65536 (exact s32 accumulators).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "sparq/aligned.h"
#include "sparq/error.h"
#include "sparq/int8_gemm.h"
#include "sparq/quantize.h"
#include "sparq/spmm_f32.h"
#include "sparq/spmm_int8.h"
#include "sparq/threadpool.h"

namespace sparq {

const SpmmInt8Kernels* spmm_int8_kernels(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  if (isa == Isa::avx512 && cpu_features().avx512vnni && cpu_features().avx512vbmi2) return &kSpmmInt8Avx512Vnni;
  if (isa >= Isa::avx2) return &kSpmmInt8Avx2;
#else
  (void)isa;
#endif
  return &kSpmmInt8Scalar;
}

namespace {

// Blocks the compressed layout stores: every range padded to an even count.
int64_t compressed_candidate_blocks(uint64_t blocks, uint64_t odd_ranges) { return static_cast<int64_t>(blocks + odd_ranges); }

class SparseInt8 final : public SparseInt8Weights {
 public:
  SparseInt8(const float* W, int64_t K, int64_t N, bool per_channel, Isa isa)
      : SparseInt8Weights(K, N, isa), kernels_(spmm_int8_kernels(isa)) {
    Int8PackedB q;  // the int8 format's quantization (group 1: plain 16-column panels), read back per code
    pack_int8_weights(W, K, N, per_channel, 1, kernels_->weight_max, q);
    max_abs_error_ = q.max_abs_error;
    rel_rms_error_ = q.rel_rms_error;
    view_.K = K;
    view_.N = N;
    view_.kq = q.kq;
    view_.chunks = (q.kq + kSpI8ChunkQuads - 1) / kSpI8ChunkQuads;
    const int64_t padded_n = (N + 15) / 16 * 16;
    scale_.resize(static_cast<size_t>(padded_n));
    colsum_.resize(static_cast<size_t>(padded_n));
    std::memcpy(scale_.data(), q.scale.data(), sizeof(float) * static_cast<size_t>(N));
    std::memcpy(colsum_.data(), q.colsum.data(), sizeof(int32_t) * static_cast<size_t>(N));
    // Blocks of column n in quad order: count, then fill.
    auto block = [&](int64_t qd, int64_t n, int32_t* packed) {
      int8_t codes[4] = {0, 0, 0, 0};
      bool any = false;
      for (int l = 0; l < 4; ++l) {
        const int64_t k = 4 * qd + l;
        if (k >= K) break;
        codes[l] = q.at(k, n);
        any |= codes[l] != 0;
      }
      if (packed) std::memcpy(packed, codes, 4);
      return any;
    };
    // Pass 1: blocks and nonzero codes per (output, chunk) range.
    const int64_t ranges = N * view_.chunks;
    std::vector<uint32_t> range_blocks(static_cast<size_t>(ranges)), range_codes(static_cast<size_t>(ranges));
    uint64_t total = 0, codes = 0, odd = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < view_.chunks; ++c) {
        uint32_t nb = 0, nc = 0;
        for (int64_t qd = c * kSpI8ChunkQuads; qd < std::min(q.kq, (c + 1) * kSpI8ChunkQuads); ++qd) {
          int32_t packed;
          if (!block(qd, n, &packed)) continue;
          ++nb;
          for (int l = 0; l < 4; ++l) nc += ((packed >> (8 * l)) & 0xff) != 0;
        }
        range_blocks[n * view_.chunks + c] = nb;
        range_codes[n * view_.chunks + c] = nc;
        total += nb;
        codes += nc;
        odd += nb & 1;
      }
    if (total + odd > 0xffffffffull || codes > 0xffffffffull)
      throw invalid_argument("Expected fewer than 2^32 blocks for format 'sparse-int8'");
    blocks_ = static_cast<int64_t>(total);
    nonzeros_ = static_cast<int64_t>(codes);
    // The smaller layout (see sparq/spmm_int8.h). Compressed ranges are padded to an even number of
    // blocks (an empty block: mask 0) so every range's masks start on a byte.
    const int64_t stored = compressed_candidate_blocks(total, odd);
    compressed_ = nonzeros_ + stored / 2 + 4 * (ranges + 1) < 4 * blocks_;
    const int64_t slots = compressed_ ? stored : blocks_;
    ptr_.resize(static_cast<size_t>(ranges + 1));
    if (compressed_) cptr_.resize(static_cast<size_t>(ranges + 1));
    uint64_t at = 0, code_at = 0;
    for (int64_t r = 0; r < ranges; ++r) {
      ptr_[r] = static_cast<uint32_t>(at);
      if (compressed_) cptr_[r] = static_cast<uint32_t>(code_at);
      at += compressed_ ? (range_blocks[r] + 1) / 2 * 2 : range_blocks[r];
      code_at += range_codes[r];
    }
    ptr_[ranges] = static_cast<uint32_t>(at);
    if (compressed_) cptr_[ranges] = static_cast<uint32_t>(code_at);
    // Padding: the kernels read 16 index bytes, 8 mask bytes and 64 code bytes from any block.
    idx_.resize(static_cast<size_t>(slots) + 16);
    if (compressed_) {
      nib_.resize(static_cast<size_t>(slots / 2) + 16);
      codes_.resize(static_cast<size_t>(nonzeros_) + 64);
    } else {
      val_.resize(static_cast<size_t>(slots) + 16);
    }
    // Pass 2: fill.
    uint32_t off = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < view_.chunks; ++c) {
        uint32_t e = ptr_[n * view_.chunks + c];
        for (int64_t qd = c * kSpI8ChunkQuads; qd < std::min(q.kq, (c + 1) * kSpI8ChunkQuads); ++qd) {
          int32_t packed;
          if (!block(qd, n, &packed)) continue;
          idx_[e] = static_cast<uint8_t>(qd - c * kSpI8ChunkQuads);
          if (compressed_) {
            unsigned mask = 0;
            for (int l = 0; l < 4; ++l) {
              const int8_t code = static_cast<int8_t>((packed >> (8 * l)) & 0xff);
              if (code == 0) continue;
              mask |= 1u << l;
              codes_[off++] = code;
            }
            nib_[e >> 1] |= static_cast<uint8_t>(mask << (4 * (e & 1)));
          } else {
            val_[e] = packed;
          }
          ++e;
        }
      }
    view_.ptr = ptr_.data();
    view_.idx = idx_.data();
    if (compressed_) {
      view_.cptr = cptr_.data();
      view_.nib = nib_.data();
      view_.codes = codes_.data();
    } else {
      view_.val = val_.data();
    }
    view_.scale = scale_.data();
    view_.colsum = colsum_.data();
  }

  const char* format() const override { return "sparse-int8"; }
  size_t bytes() const override {
    return sizeof(*this) + ptr_.bytes() + cptr_.bytes() + idx_.bytes() + nib_.bytes() + codes_.bytes() + val_.bytes() +
           scale_.bytes() + colsum_.bytes();
  }
  double density() const override { return static_cast<double>(blocks_) * 4 / (static_cast<double>(K()) * N()); }
  void describe(std::vector<InfoEntry>& info) const override {
    info.push_back({"kernel", 0, kernels_->name, true});
    info.push_back({"block", 0, "1x4", true});
    info.push_back({"layout", 0, compressed_ ? "compressed" : "words", true});
    info.push_back({"blocks", static_cast<double>(blocks_), "", false});
    info.push_back({"nonzeros", static_cast<double>(nonzeros_), "", false});
    info.push_back({"weightBits", kernels_->weight_max == 127 ? 8.0 : 7.0, "", false});
    info.push_back({"weightMaxAbsError", max_abs_error_, "", false});
    info.push_back({"weightRelRmsError", rel_rms_error_, "", false});
    info.push_back({"activations", 0, "u8 asymmetric per row, dynamic", true});
  }

  int8_t code(int64_t k, int64_t n) const override {
    const int64_t qd = k / 4, c = qd / kSpI8ChunkQuads;
    uint32_t off = code_offset(view_, n, c);
    for (uint32_t e = ptr_[n * view_.chunks + c]; e < ptr_[n * view_.chunks + c + 1]; ++e) {
      const int32_t word = block_word(view_, e, off);
      if (c * kSpI8ChunkQuads + idx_[e] == qd) return static_cast<int8_t>((word >> (8 * (k % 4))) & 0xff);
    }
    return 0;
  }
  int64_t padded_k() const override { return 4 * view_.kq; }

  void matmul(const float* x, int64_t M, float* y, const Epilogue& ep, int threads) const override {
    run(x, M, y, ep, threads, M < kXtMinRows, nullptr, nullptr, nullptr);
  }

  void accumulators(const float* x, int64_t M, bool rows_kernel, int32_t* acc, uint8_t* xq,
                    int32_t* zero_points) const override {
    run(x, M, nullptr, {}, 1, rows_kernel, acc, xq, zero_points);
  }

 private:
  void run(const float* x, int64_t M, float* y, const Epilogue& ep, int threads, bool rows_kernel, int32_t* acc,
           uint8_t* xq_out, int32_t* za_out) const {
    const int64_t K = this->K(), N = this->N();
    const int t = threads_for_work(static_cast<double>(M) * static_cast<double>(blocks_) * 4, threads);
    ThreadPool& pool = ThreadPool::global();
    const int64_t kp = 4 * view_.kq;
    thread_local AlignedBuffer<float> scale_buffer;
    thread_local AlignedBuffer<int32_t> zero_buffer;
    float* sa = scale_buffer.reserve(static_cast<size_t>(M));
    int32_t* za = zero_buffer.reserve(static_cast<size_t>(M));

    if (rows_kernel) {
      const int64_t row_bytes = view_.chunks * kSpI8ChunkBytes;
      thread_local AlignedBuffer<uint8_t> qbuf;
      uint8_t* xq = qbuf.reserve(static_cast<size_t>(M * row_bytes));
      quantize_rows_u8(isa(), x, M, K, row_bytes, xq, sa, za, false);
      const int64_t batches = (N + 15) / 16, grain = (batches + t - 1) / t;
      for (int64_t m = 0; m < M; ++m) {
        pool.parallel_for(batches, t, grain, [&](int64_t b0, int64_t b1) {
          kernels_->rows(view_, xq + m * row_bytes, 16 * b0, std::min(16 * b1, N), sa[m], za[m], y ? y + m * N : nullptr,
                         ep, acc ? acc + m * N : nullptr);
        });
        if (xq_out) std::memcpy(xq_out + m * kp, xq + m * row_bytes, static_cast<size_t>(kp));
      }
      if (za_out) std::memcpy(za_out, za, sizeof(int32_t) * static_cast<size_t>(M));
      return;
    }

    const int64_t MT = kernels_->xt_rows(M);
    const int64_t tiles = (M + MT - 1) / MT;
    thread_local AlignedBuffer<uint8_t> qbuf, xtbuf;
    uint8_t* xq = qbuf.reserve(static_cast<size_t>(M * kp));
    const int64_t tile_bytes = view_.chunks * kSpI8ChunkQuads * MT * 4;  // whole chunks: the kernels step by chunk
    uint8_t* xt = xtbuf.reserve(static_cast<size_t>(tiles * tile_bytes));
    // Quantize and transpose quads per M tile (in parallel over tiles).
    pool.parallel_for(tiles, t, std::max<int64_t>(1, (tiles + t - 1) / t), [&](int64_t t0, int64_t t1) {
      for (int64_t tile = t0; tile < t1; ++tile) {
        const int64_t m0 = tile * MT, rows = std::min(MT, M - m0);
        quantize_rows_u8(isa(), x + m0 * K, rows, K, kp, xq + m0 * kp, sa + m0, za + m0, false);
        uint32_t* dst = reinterpret_cast<uint32_t*>(xt + tile * tile_bytes);
        if (rows < MT) std::memset(dst, 0, static_cast<size_t>(tile_bytes));
        for (int64_t i = 0; i < rows; ++i) {
          const uint8_t* src = xq + (m0 + i) * kp;
          for (int64_t qd = 0; qd < view_.kq; ++qd) std::memcpy(dst + qd * MT + i, src + 4 * qd, 4);
        }
      }
    });
    if (xq_out) std::memcpy(xq_out, xq, static_cast<size_t>(M * kp));
    if (za_out) std::memcpy(za_out, za, sizeof(int32_t) * static_cast<size_t>(M));
    const int64_t bc = kernels_->batch_cols, batches = (N + bc - 1) / bc, grain = (batches + t - 1) / t;
    pool.parallel_for(batches, t, grain, [&](int64_t b0, int64_t b1) {
      for (int64_t tile = 0; tile < tiles; ++tile) {
        const int64_t m0 = tile * MT;
        kernels_->xt(view_, xt + tile * tile_bytes, static_cast<int>(MT), static_cast<int>(std::min(MT, M - m0)), b0 * bc, std::min(b1 * bc, N),
                     RowQuant{sa + m0, za + m0}, y ? y + m0 * N : nullptr, N, ep, acc ? acc + m0 * N : nullptr, N);
      }
    });
  }

  const SpmmInt8Kernels* kernels_;
  SparseInt8View view_;
  int64_t blocks_ = 0, nonzeros_ = 0;
  double max_abs_error_ = 0, rel_rms_error_ = 0;
  AlignedBuffer<uint32_t> ptr_, cptr_;
  AlignedBuffer<uint8_t> idx_, nib_;
  AlignedBuffer<int8_t> codes_;
  AlignedBuffer<int32_t> val_;
  bool compressed_ = false;
  AlignedBuffer<float> scale_;
  AlignedBuffer<int32_t> colsum_;
};

std::unique_ptr<PackedWeights> pack_sparse_int8(const float* W, int64_t K, int64_t N, const PackOptions& opts) {
  return std::make_unique<SparseInt8>(W, K, N, opts.number("perChannel", 1.0) != 0.0, opts.isa);
}

}  // namespace

SPARQ_REGISTER_FORMAT(sparse_int8, "sparse-int8", pack_sparse_int8);

}  // namespace sparq
