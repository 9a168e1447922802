// The 'sparse-int8' format: s8 weights with per-output scales, u8 activations quantized per row at
// call time (sparq/quantize.h, shared with the 'int8' format), exact s32 accumulation and the
// dequantizing epilogue (sparq/spmm_int8.h). Weights are quantized exactly as the 'int8' format does
// (pack_int8_weights: symmetric, round half to even; 7-bit on the AVX2 path) and stored as 1x4 blocks
// ("words": block-pruned weights) or as single nonzeros ("nonzeros": random sparsity, where about 34%
// of blocks survive 90% sparsity holding ~1.2 codes each). K is limited to 65536 (exact s32 accumulators).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "sparq/aligned.h"
#include "sparq/error.h"
#include "sparq/int8_gemm.h"
#include "sparq/packed_serialize.h"
#include "sparq/quantize.h"
#include "sparq/spmm_f32.h"
#include "sparq/spmm_int8.h"
#include "sparq/threadpool.h"

namespace sparq {

const SpmmInt8Kernels* spmm_int8_kernels(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  if (isa == Isa::avx512 && cpu_features().avx512vnni && cpu_features().avx512vbmi) return &kSpmmInt8Avx512Vnni;
  if (isa >= Isa::avx2) return &kSpmmInt8Avx2;
#else
  (void)isa;
#endif
  return &kSpmmInt8Scalar;
}

namespace {

// Serialised layout (SparseInt8::serialize): signature "SPI8", version.
constexpr uint32_t kSerialMagic = 0x38495053;
constexpr uint32_t kSerialVersion = 2;

// The nonzeros layout when it is the smaller one (2 bytes per nonzero against 5 per block) and blocks
// hold at most ~1.6 nonzeros on average: past that the xt kernel's one vpdpbusd per element would do
// more work than per block (random sparsity below ~75%).
bool prefer_nonzeros(int64_t blocks, int64_t nonzeros) { return 2 * nonzeros < 5 * blocks && 10 * nonzeros <= 16 * blocks; }

// Read-ahead padding after the element arrays (the AVX-512 kernels' 16-element word loads).
constexpr size_t kElementPad = 64;

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
    uint64_t total = 0, codes = 0;
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
      }
    if (codes > 0xffffffffull) throw invalid_argument("Expected fewer than 2^32 nonzeros for format 'sparse-int8'");
    blocks_ = static_cast<int64_t>(total);
    nonzeros_ = static_cast<int64_t>(codes);
    nonzero_layout_ = prefer_nonzeros(blocks_, nonzeros_);
    elements_ = nonzero_layout_ ? nonzeros_ : blocks_;
    ptr_.resize(static_cast<size_t>(ranges + 1));
    uint64_t at = 0;
    for (int64_t r = 0; r < ranges; ++r) {
      ptr_[r] = static_cast<uint32_t>(at);
      at += nonzero_layout_ ? range_codes[r] : range_blocks[r];
    }
    ptr_[ranges] = static_cast<uint32_t>(at);
    allocate_elements();
    // Pass 2: fill.
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < view_.chunks; ++c) {
        uint32_t e = ptr_[n * view_.chunks + c];
        for (int64_t qd = c * kSpI8ChunkQuads; qd < std::min(q.kq, (c + 1) * kSpI8ChunkQuads); ++qd) {
          int32_t packed;
          if (!block(qd, n, &packed)) continue;
          if (!nonzero_layout_) {
            idx_[e] = static_cast<uint8_t>(qd - c * kSpI8ChunkQuads);
            val_[e++] = packed;
            continue;
          }
          for (int l = 0; l < 4; ++l) {
            const int8_t code = static_cast<int8_t>((packed >> (8 * l)) & 0xff);
            if (code == 0) continue;
            idx_[e] = static_cast<uint8_t>(4 * (qd - c * kSpI8ChunkQuads) + l);
            codes_[e++] = code;
          }
        }
      }
    set_view();
  }

  // From SparseInt8::serialize's bytes (sparq/packed_serialize.h): every count and index is checked,
  // so damaged or hostile bytes throw instead of reaching the kernels.
  struct FromBytes {};
  SparseInt8(FromBytes, const uint8_t* bytes, size_t size, int64_t K, int64_t N, Isa isa)
      : SparseInt8Weights(K, N, isa), kernels_(spmm_int8_kernels(isa)) {
    const char* fmt = "sparse-int8";
    ByteReader r(bytes, size);
    if (r.get<uint32_t>() != kSerialMagic) invalid_packed(fmt, "its bytes do not start with the format's signature");
    const uint32_t version = r.get<uint32_t>();
    if (version != kSerialVersion) invalid_packed(fmt, "they are of version " + std::to_string(version) + ", not " + std::to_string(kSerialVersion));
    (void)r.get<uint32_t>();  // the ISA packed for: informational, the layout is shared by all ISAs
    const int32_t weight_max = r.get<int32_t>();
    if (weight_max != kernels_->weight_max)
      invalid_packed(fmt, "they hold " + std::to_string(weight_max == 127 ? 8 : 7) + "-bit codes and this CPU's kernel (" + kernels_->name + ") needs " +
                              std::to_string(kernels_->weight_max == 127 ? 8 : 7) + "-bit ones (re-pack from the weights)");
    if (r.get<int64_t>() != K || r.get<int64_t>() != N) invalid_packed(fmt, "their K, N differ from the weight's");
    view_.K = K;
    view_.N = N;
    view_.kq = r.get<int64_t>();
    view_.chunks = r.get<int64_t>();
    if (view_.kq != (K + 3) / 4 || view_.chunks != (view_.kq + kSpI8ChunkQuads - 1) / kSpI8ChunkQuads) invalid_packed(fmt, "their chunk counts contradict K");
    const uint32_t layout = r.get<uint32_t>();
    if (layout > 1) invalid_packed(fmt, "their layout is unknown");
    nonzero_layout_ = layout == 1;
    elements_ = r.get<int64_t>();
    const int64_t per_element = nonzero_layout_ ? 1 : 4;
    if (elements_ < 0 || elements_ > N * view_.kq * (nonzero_layout_ ? 4 : 1) || elements_ > int64_t(0xffffffff))
      invalid_packed(fmt, "their element count is impossible");
    max_abs_error_ = r.get<double>();
    rel_rms_error_ = r.get<double>();
    const int64_t segments = N * view_.chunks;
    if (static_cast<uint64_t>(r.left()) < static_cast<uint64_t>(segments + 1) * 4 + static_cast<uint64_t>(elements_) * (1 + per_element) + static_cast<uint64_t>(N) * 4)
      invalid_packed(fmt, "the data ends early (truncated)");
    ptr_.resize(static_cast<size_t>(segments + 1));
    r.get_bytes(ptr_.data(), sizeof(uint32_t) * static_cast<size_t>(segments + 1));
    allocate_elements();
    r.get_bytes(idx_.data(), static_cast<size_t>(elements_));
    if (nonzero_layout_) {
      r.get_bytes(codes_.data(), static_cast<size_t>(elements_));
    } else {
      r.align(4);
      r.get_bytes(val_.data(), sizeof(int32_t) * static_cast<size_t>(elements_));
    }
    r.align(4);
    const int64_t padded_n = (N + 15) / 16 * 16;
    scale_.resize(static_cast<size_t>(padded_n));
    colsum_.resize(static_cast<size_t>(padded_n));
    r.get_bytes(scale_.data(), sizeof(float) * static_cast<size_t>(N));
    if (r.left() != 0) invalid_packed(fmt, "they carry " + std::to_string(r.left()) + " bytes too many");
    if (ptr_[0] != 0 || ptr_[segments] != static_cast<uint32_t>(elements_)) invalid_packed(fmt, "their element pointers do not span the elements");
    set_view();
    // Offsets in range and increasing, codes in range (nonzero in the nonzeros layout), nothing past K;
    // column sums and block counts recomputed, not trusted.
    const int64_t offsets = nonzero_layout_ ? 4 * kSpI8ChunkQuads : kSpI8ChunkQuads;
    for (int64_t n = 0; n < N; ++n) {
      int32_t colsum = 0;
      for (int64_t c = 0; c < view_.chunks; ++c) {
        const int64_t seg = n * view_.chunks + c;
        if (ptr_[seg + 1] < ptr_[seg]) invalid_packed(fmt, "their element pointers decrease");
        int last = -1, last_quad = -1;
        for (uint32_t e = ptr_[seg]; e < ptr_[seg + 1]; ++e) {
          if (idx_[e] >= offsets || static_cast<int>(idx_[e]) <= last) invalid_packed(fmt, "an element index is out of range or out of order");
          last = idx_[e];
          const int64_t qd = c * kSpI8ChunkQuads + element_quad(view_, e);
          if (qd >= view_.kq) invalid_packed(fmt, "an element lies past K");
          if (nonzero_layout_ && codes_[e] == 0) invalid_packed(fmt, "a stored nonzero is zero");
          blocks_ += static_cast<int>(qd) != last_quad;
          last_quad = static_cast<int>(qd);
          const uint32_t word = static_cast<uint32_t>(element_word(view_, e));
          for (int l = 0; l < 4; ++l) {
            const int8_t code = static_cast<int8_t>((word >> (8 * l)) & 0xff);
            if (code < -weight_max || code > weight_max || (4 * qd + l >= K && code != 0)) invalid_packed(fmt, "a weight code is out of range");
            colsum += code;
            nonzeros_ += code != 0;
          }
        }
      }
      colsum_[n] = colsum;
    }
  }

  bool serialize(std::vector<uint8_t>& out) const override {
    ByteWriter w(out);
    w.put(kSerialMagic);
    w.put(kSerialVersion);
    w.put(static_cast<uint32_t>(isa()));
    w.put(static_cast<int32_t>(kernels_->weight_max));
    w.put(K());
    w.put(N());
    w.put(view_.kq);
    w.put(view_.chunks);
    w.put(static_cast<uint32_t>(nonzero_layout_ ? 1 : 0));
    w.put(elements_);
    w.put(max_abs_error_);
    w.put(rel_rms_error_);
    w.put_bytes(ptr_.data(), sizeof(uint32_t) * static_cast<size_t>(N() * view_.chunks + 1));
    w.put_bytes(idx_.data(), static_cast<size_t>(elements_));
    if (nonzero_layout_) {
      w.put_bytes(codes_.data(), static_cast<size_t>(elements_));
    } else {
      w.align(4);
      w.put_bytes(val_.data(), sizeof(int32_t) * static_cast<size_t>(elements_));
    }
    w.align(4);
    w.put_bytes(scale_.data(), sizeof(float) * static_cast<size_t>(N()));
    return true;
  }

  const char* format() const override { return "sparse-int8"; }
  size_t bytes() const override {
    return sizeof(*this) + ptr_.bytes() + idx_.bytes() + codes_.bytes() + val_.bytes() + scale_.bytes() + colsum_.bytes();
  }
  // Stored values / (K·N): a block stores 4.
  double density() const override {
    return static_cast<double>(nonzero_layout_ ? nonzeros_ : 4 * blocks_) / (static_cast<double>(K()) * N());
  }
  void describe(std::vector<InfoEntry>& info) const override {
    info.push_back({"kernel", 0, kernels_->name, true});
    info.push_back({"block", 0, "1x4", true});
    info.push_back({"layout", 0, nonzero_layout_ ? "nonzeros" : "words", true});
    info.push_back({"blocks", static_cast<double>(blocks_), "", false});
    info.push_back({"nonzeros", static_cast<double>(nonzeros_), "", false});
    info.push_back({"weightBits", kernels_->weight_max == 127 ? 8.0 : 7.0, "", false});
    info.push_back({"weightMaxAbsError", max_abs_error_, "", false});
    info.push_back({"weightRelRmsError", rel_rms_error_, "", false});
    info.push_back({"activations", 0, "u8 asymmetric per row, dynamic", true});
  }

  int8_t code(int64_t k, int64_t n) const override {
    const int64_t qd = k / 4, c = qd / kSpI8ChunkQuads;
    int8_t found = 0;  // a nonzero's word holds zeros at the other k of its quad: keep looking past them
    for (uint32_t e = ptr_[n * view_.chunks + c]; e < ptr_[n * view_.chunks + c + 1]; ++e)
      if (c * kSpI8ChunkQuads + element_quad(view_, e) == qd)
        found = static_cast<int8_t>(found | static_cast<int8_t>((element_word(view_, e) >> (8 * (k % 4))) & 0xff));
    return found;
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
    const int t = threads_for_work(static_cast<double>(M) * static_cast<double>(elements_) * 4, threads);
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

  // idx_ and codes_ (nonzeros) or val_ (words) for elements_ elements, with the kernels' read-ahead.
  void allocate_elements() {
    idx_.resize(static_cast<size_t>(elements_) + kElementPad);
    if (nonzero_layout_)
      codes_.resize(static_cast<size_t>(elements_) + kElementPad);
    else
      val_.resize(static_cast<size_t>(elements_) + kElementPad);
  }
  void set_view() {
    view_.ptr = ptr_.data();
    view_.idx = idx_.data();
    view_.val = nonzero_layout_ ? nullptr : val_.data();
    view_.codes = nonzero_layout_ ? codes_.data() : nullptr;
    view_.scale = scale_.data();
    view_.colsum = colsum_.data();
  }

  const SpmmInt8Kernels* kernels_;
  SparseInt8View view_;
  int64_t blocks_ = 0, nonzeros_ = 0, elements_ = 0;
  double max_abs_error_ = 0, rel_rms_error_ = 0;
  AlignedBuffer<uint32_t> ptr_;
  AlignedBuffer<uint8_t> idx_;
  AlignedBuffer<int8_t> codes_;
  AlignedBuffer<int32_t> val_;
  bool nonzero_layout_ = false;
  AlignedBuffer<float> scale_;
  AlignedBuffer<int32_t> colsum_;
};

std::unique_ptr<PackedWeights> pack_sparse_int8(const float* W, int64_t K, int64_t N, const PackOptions& opts) {
  return std::make_unique<SparseInt8>(W, K, N, opts.number("perChannel", 1.0) != 0.0, opts.isa);
}

std::unique_ptr<PackedWeights> unpack_sparse_int8(const uint8_t* bytes, size_t size, int64_t K, int64_t N, Isa isa) {
  return std::make_unique<SparseInt8>(SparseInt8::FromBytes{}, bytes, size, K, N, isa);
}

}  // namespace

SPARQ_REGISTER_FORMAT(sparse_int8, "sparse-int8", pack_sparse_int8);
SPARQ_REGISTER_UNPACKER(sparse_int8, "sparse-int8", unpack_sparse_int8);

}  // namespace sparq
