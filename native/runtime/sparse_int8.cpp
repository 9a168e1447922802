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
#include <limits>
#include <memory>
#include <string>
#include <vector>

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
  if (isa == Isa::avx512 && cpu_features().avx512vnni && cpu_features().avx512vbmi2) return &kSpmmInt8Avx512Vnni;
  if (isa >= Isa::avx2) return &kSpmmInt8Avx2;
#else
  (void)isa;
#endif
  return &kSpmmInt8Scalar;
}

namespace {

// Serialised layout (SparseInt8::serialize): signature "SPI8", version.
constexpr uint32_t kSerialMagic = 0x38495053;
constexpr uint32_t kSerialVersion = 2;  // 2: block bitmaps, both layouts (1: words layout, pointers and indices)

// Portable bit counts (C++17 has no <bit>): SWAR popcount; trailing zeros of x != 0.
int popcount64(uint64_t x) {
  x -= (x >> 1) & 0x5555555555555555ull;
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
  return static_cast<int>((x * 0x0101010101010101ull) >> 56);
}
#if defined(__GNUC__) || defined(__clang__)
int ctz64(uint64_t x) { return __builtin_ctzll(x); }  // one instruction (bsf / tzcnt)
#else
int ctz64(uint64_t x) { return popcount64((x & (~x + 1)) - 1); }
#endif

// Set bits of every byte value.
constexpr auto kBits8 = [] {
  struct Table {
    uint8_t v[256];
    constexpr uint8_t operator[](size_t i) const { return v[i]; }
  } t{};
  for (int i = 0; i < 256; ++i) t.v[i] = static_cast<uint8_t>((i & 1) + ((i >> 1) & 1) + ((i >> 2) & 1) + ((i >> 3) & 1) + ((i >> 4) & 1) + ((i >> 5) & 1) + ((i >> 6) & 1) + ((i >> 7) & 1));
  return t;
}();

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
    init_view();
    std::memcpy(scale_.data(), q.scale.data(), sizeof(float) * static_cast<size_t>(N));
    std::memcpy(colsum_.data(), q.colsum.data(), sizeof(int32_t) * static_cast<size_t>(N));
    // Every column's blocks with a nonzero code, in quad order.
    ColumnBlocks cb;
    cb.start.push_back(0);
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t qd = 0; qd < q.kq; ++qd) {
        int8_t codes[4] = {0, 0, 0, 0};
        bool any = false;
        for (int l = 0; l < 4 && 4 * qd + l < K; ++l) {
          codes[l] = q.at(4 * qd + l, n);
          any |= codes[l] != 0;
        }
        if (!any) continue;
        int32_t word;
        std::memcpy(&word, codes, 4);
        cb.quad.push_back(static_cast<uint32_t>(qd));
        cb.word.push_back(word);
      }
      cb.start.push_back(cb.quad.size());
    }
    build(cb);
  }

  // From W's nonzeros (sparq/packed.h CscMatrix, validated by pack_weights_csc): the same codes, scales
  // and layout as from the dense W, in O(nonzeros). The quantization is pack_int8_weights' rule
  // (sparq/int8_gemm.h) applied to the stored values: zeros move no maximum and add no error.
  struct FromCsc {};
  SparseInt8(FromCsc, const CscMatrix& W, int64_t K, int64_t N, bool per_channel, Isa isa)
      : SparseInt8Weights(K, N, isa), kernels_(spmm_int8_kernels(isa)) {
    if (K > kInt8MaxK)
      throw invalid_argument("Expected an integer <= " + std::to_string(kInt8MaxK) +
                             " (exact s32 accumulation in the int8 format) for K but received " + std::to_string(K));
    const int weight_max = kernels_->weight_max;
    init_view();
    std::vector<float> maxabs(static_cast<size_t>(N), 0.0f);
    std::vector<char> finite(static_cast<size_t>(N), 1);
    const int32_t* col_ptr = W.col_ptr;
    const int32_t* rows = W.rows;
    const float* values = W.values;
    // Locals, not the vectors, carry the running values: no store-to-load chain per nonzero.
    for (int64_t n = 0; n < N; ++n) {
      float m = 0.0f;
      bool ok = true;
      for (int32_t j = col_ptr[n], j1 = col_ptr[n + 1]; j < j1; ++j) {
        const float a = std::fabs(values[j]);
        ok &= a <= std::numeric_limits<float>::max();
        m = std::max(m, a);
      }
      maxabs[n] = ok ? m : 0.0f;
      finite[n] = ok;
    }
    if (!per_channel) {
      const float all = *std::max_element(maxabs.begin(), maxabs.end());
      const bool all_finite = std::all_of(finite.begin(), finite.end(), [](char c) { return c != 0; });
      std::fill(maxabs.begin(), maxabs.end(), all);
      std::fill(finite.begin(), finite.end(), static_cast<char>(all_finite));
    }
    double max_err = 0, sum_err2 = 0, sum_w2 = 0;
    // Blocks are written branch-free (a new quad opens a block): slot counts the blocks so far.
    ColumnBlocks cb;
    cb.start.resize(static_cast<size_t>(N + 1));
    cb.quad.resize(static_cast<size_t>(col_ptr[N]) + 1);
    cb.word.resize(static_cast<size_t>(col_ptr[N]) + 1);
    uint32_t* quads = cb.quad.data();
    int32_t* words = cb.word.data();
    size_t slot = 0;
    const float lim = static_cast<float>(weight_max);
    for (int64_t n = 0; n < N; ++n) {
      float s = maxabs[n] / lim;
      if (!finite[n]) s = std::nanf("");
      else if (!(s > 0.0f)) s = 1.0f;
      scale_[n] = s;
      int32_t colsum = 0;
      int64_t open = -1;  // the quad of the block being filled (slot - 1)
      uint32_t word = 0;
      double col_max = 0, col_err2 = 0, col_w2 = 0;
      const int32_t j0 = col_ptr[n], j1 = std::isnan(s) ? j0 : col_ptr[n + 1];  // NaN scale: codes stay 0
      for (int32_t j = j0; j < j1; ++j) {
        const float w = values[j];
        // clamp then round half to even (as nearbyint in the default mode, inlined: |x| <= 127 < 2^22)
        const float x = std::max(-lim, std::min(lim, w / s));
        const int8_t code = static_cast<int8_t>((x + 12582912.0f) - 12582912.0f);
        colsum += code;
        const double err = static_cast<double>(w) - static_cast<double>(s) * code;
        col_max = std::max(col_max, std::fabs(err));
        col_err2 += err * err;
        col_w2 += static_cast<double>(w) * w;
        if (code == 0) continue;
        const int64_t qd = rows[j] / 4;
        const uint32_t bits = static_cast<uint32_t>(static_cast<uint8_t>(code)) << (8 * (rows[j] % 4));
        const bool fresh = qd != open;
        slot += fresh;
        word = fresh ? bits : (word | bits);
        quads[slot - 1] = static_cast<uint32_t>(qd);
        words[slot - 1] = static_cast<int32_t>(word);
        open = qd;
      }
      max_err = std::max(max_err, col_max);
      sum_err2 += col_err2;
      sum_w2 += col_w2;
      colsum_[n] = colsum;
      cb.start[static_cast<size_t>(n + 1)] = slot;
    }
    cb.quad.resize(slot);
    cb.word.resize(slot);
    max_abs_error_ = max_err;
    rel_rms_error_ = sum_w2 > 0 ? std::sqrt(sum_err2 / sum_w2) : 0.0;
    build(cb);
  }

  // From SparseInt8::serialize's bytes (sparq/packed_serialize.h): counts, bitmaps, masks and codes are
  // all checked, so damaged or hostile bytes throw instead of reaching the kernels. No quantization and
  // no search: the layout is laid out again from the bitmaps, the codes copied.
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
    if (K > kInt8MaxK) invalid_packed(fmt, "their K is over the format's limit");
    init_view();
    blocks_ = r.get<int64_t>();
    nonzeros_ = r.get<int64_t>();
    max_abs_error_ = r.get<double>();
    rel_rms_error_ = r.get<double>();
    const uint32_t layout = r.get<uint32_t>();
    (void)r.get<uint32_t>();
    if (layout > 1) invalid_packed(fmt, "their layout is unknown");
    compressed_ = layout == 1;
    const int64_t ranges = N * view_.chunks;
    if (blocks_ < 0 || blocks_ > N * view_.kq || nonzeros_ < 0 || nonzeros_ > 4 * blocks_) invalid_packed(fmt, "their block counts are impossible");
    const uint64_t need = static_cast<uint64_t>(ranges) * 8 + (compressed_ ? static_cast<uint64_t>(blocks_ + 1) / 2 + static_cast<uint64_t>(nonzeros_) : static_cast<uint64_t>(blocks_) * 4) + static_cast<uint64_t>(N) * 4;
    if (r.left() != need) invalid_packed(fmt, "they are " + std::to_string(r.left()) + " bytes long where " + std::to_string(need) + " are expected (truncated?)");
    std::vector<uint64_t> bitmap(static_cast<size_t>(ranges));
    r.get_bytes(bitmap.data(), sizeof(uint64_t) * bitmap.size());
    // Block pointers from the bitmaps (compressed ranges padded to an even count, as packing does).
    ptr_.resize(static_cast<size_t>(ranges + 1));
    if (compressed_) cptr_.resize(static_cast<size_t>(ranges + 1));
    uint64_t at = 0, real = 0, odd = 0;
    for (int64_t rg = 0; rg < ranges; ++rg) {
      const int64_t quads = std::min<int64_t>(kSpI8ChunkQuads, view_.kq - (rg % view_.chunks) * kSpI8ChunkQuads);
      if (quads < 64 && (bitmap[rg] >> quads) != 0) invalid_packed(fmt, "a block lies past K");
      const uint32_t nb = static_cast<uint32_t>(popcount64(bitmap[rg]));
      ptr_[rg] = static_cast<uint32_t>(at);
      at += compressed_ ? (nb + 1) / 2 * 2 : nb;
      real += nb;
      odd += nb & 1;
    }
    ptr_[ranges] = static_cast<uint32_t>(at);
    if (real != static_cast<uint64_t>(blocks_)) invalid_packed(fmt, "their bitmaps do not hold their block count");
    const int64_t slots = compressed_ ? compressed_candidate_blocks(real, odd) : blocks_;
    idx_.resize(static_cast<size_t>(slots) + 16);
    for (int64_t rg = 0; rg < ranges; ++rg) {
      uint32_t e = ptr_[rg];
      for (uint64_t bits = bitmap[rg]; bits; bits &= bits - 1) idx_[e++] = static_cast<uint8_t>(ctz64(bits));
    }
    const int wm = weight_max;
    auto code_ok = [wm](int8_t c) { return c >= -wm && c <= wm; };
    // Lanes of the last quad that lie within K (the bitmaps already keep blocks below kq).
    const unsigned tail_lanes = (1u << (K - 4 * (view_.kq - 1))) - 1u;
    const int64_t last_chunk = view_.chunks - 1;
    const uint8_t last_idx = static_cast<uint8_t>(view_.kq - 1 - last_chunk * kSpI8ChunkQuads);
    auto lanes_of = [&](int64_t chunk, uint32_t e) { return chunk == last_chunk && idx_[e] == last_idx ? tail_lanes : 15u; };
    if (compressed_) {
      std::vector<uint8_t> masks(static_cast<size_t>(blocks_ + 1) / 2);
      r.get_bytes(masks.data(), masks.size());
      nib_.resize(static_cast<size_t>(slots / 2) + 16);
      codes_.resize(static_cast<size_t>(nonzeros_) + 64);
      r.get_bytes(codes_.data(), static_cast<size_t>(nonzeros_));
      // Masks arrive packed without the padding blocks; every range starts on a whole byte of nib_
      // (its slot count is even), so a range's masks are copied bytewise (shifted by a nibble where they
      // start mid-byte) and checked a byte at a time.
      uint64_t b = 0, off = 0;
      uint8_t zero_nibble = 0;
      for (int64_t rg = 0; rg < ranges; ++rg) {
        cptr_[rg] = static_cast<uint32_t>(off);
        const uint32_t nb = static_cast<uint32_t>(popcount64(bitmap[rg]));
        if (nb == 0) continue;
        uint8_t* dst = nib_.data() + (ptr_[rg] >> 1);
        const uint8_t* src = masks.data() + (b >> 1);
        const uint32_t pairs = nb >> 1;
        if ((b & 1) == 0) {
          std::memcpy(dst, src, pairs);
          if (nb & 1) dst[pairs] = src[pairs] & 0x0f;
        } else {
          for (uint32_t j = 0; j < pairs; ++j) dst[j] = static_cast<uint8_t>((src[j] >> 4) | ((src[j + 1] & 0x0f) << 4));
          if (nb & 1) dst[pairs] = static_cast<uint8_t>(src[pairs] >> 4);
        }
        uint32_t codes = 0;
        for (uint32_t j = 0; j < (nb + 1) / 2; ++j) {
          zero_nibble |= static_cast<uint8_t>((dst[j] & 0x0f) == 0);
          codes += kBits8[dst[j]];
        }
        for (uint32_t j = 0; j < pairs; ++j) zero_nibble |= static_cast<uint8_t>((dst[j] & 0xf0) == 0);
        // The block at the last quad (the range's highest bit, so its last block) may hold lanes past K.
        if (rg % view_.chunks == last_chunk && (bitmap[rg] >> last_idx) & 1) {
          const uint32_t e = ptr_[rg] + nb - 1;
          if ((nib_[e >> 1] >> (4 * (e & 1))) & ~tail_lanes & 0x0fu) invalid_packed(fmt, "a weight code lies past K");
        }
        b += nb;
        off += codes;
        if (off > static_cast<uint64_t>(nonzeros_)) invalid_packed(fmt, "their masks name more codes than they hold");
      }
      cptr_[ranges] = static_cast<uint32_t>(off);
      if (zero_nibble) invalid_packed(fmt, "a stored block holds no code");
      if (off != static_cast<uint64_t>(nonzeros_) || (blocks_ & 1 && masks.back() >> 4)) invalid_packed(fmt, "their masks do not match their codes");
      bool bad = false;
      for (int64_t n = 0; n < N; ++n) {
        int32_t colsum = 0;
        const int8_t* c = codes_.data();
        for (uint32_t i = cptr_[n * view_.chunks], i1 = cptr_[(n + 1) * view_.chunks]; i < i1; ++i) {
          bad |= !code_ok(c[i]);
          colsum += c[i];
        }
        colsum_[n] = colsum;  // recomputed, not trusted
      }
      if (bad) invalid_packed(fmt, "a weight code is out of range");
    } else {
      val_.resize(static_cast<size_t>(blocks_) + 16);  // the kernels' read-ahead padding, as packing sizes it
      r.get_bytes(val_.data(), sizeof(int32_t) * static_cast<size_t>(blocks_));
      int64_t nonzeros = 0;
      for (int64_t n = 0; n < N; ++n) {
        int32_t colsum = 0;
        for (int64_t c = 0; c < view_.chunks; ++c) {
          const int64_t rg = n * view_.chunks + c;
          for (uint32_t e = ptr_[rg]; e < ptr_[rg + 1]; ++e) {
            const unsigned lanes = lanes_of(c, e);
            for (int l = 0; l < 4; ++l) {
              const int8_t code = static_cast<int8_t>((static_cast<uint32_t>(val_[e]) >> (8 * l)) & 0xff);
              if (!code_ok(code) || (code != 0 && !((lanes >> l) & 1u))) invalid_packed(fmt, "a weight code is out of range");
              colsum += code;
              nonzeros += code != 0;
            }
          }
        }
        colsum_[n] = colsum;
      }
      if (nonzeros != nonzeros_) invalid_packed(fmt, "their nonzero count does not match their codes");
    }
    r.get_bytes(scale_.data(), sizeof(float) * static_cast<size_t>(N));
    point_view();
  }

  // Both layouts: a header, one 64-bit map of stored blocks per (output, chunk) range (bit q: the block
  // at quad q of the chunk), then the words (words layout) or the blocks' 4-bit masks, two to a byte,
  // and the nonzero codes (compressed layout; padding blocks are not written), then the scales. The
  // maps stand in for block pointers and indices: smaller, and nothing in them can point out of range.
  bool serialize(std::vector<uint8_t>& out) const override {
    const int64_t ranges = N() * view_.chunks;
    ByteWriter w(out);
    w.put(kSerialMagic);
    w.put(kSerialVersion);
    w.put(static_cast<uint32_t>(isa()));
    w.put(static_cast<int32_t>(kernels_->weight_max));
    w.put(K());
    w.put(N());
    w.put(blocks_);
    w.put(nonzeros_);
    w.put(max_abs_error_);
    w.put(rel_rms_error_);
    w.put(static_cast<uint32_t>(compressed_ ? 1 : 0));
    w.put(uint32_t{0});
    std::vector<uint8_t> masks;
    masks.reserve(static_cast<size_t>(blocks_ + 1) / 2);
    size_t real = 0;
    for (int64_t rg = 0; rg < ranges; ++rg) {
      uint64_t bits = 0;
      for (uint32_t e = ptr_[rg]; e < ptr_[rg + 1]; ++e) {
        if (compressed_) {
          const unsigned mask = block_mask(view_, e);
          if (mask == 0) continue;  // the padding block of an odd range
          if (real % 2 == 0) masks.push_back(0);
          masks.back() |= static_cast<uint8_t>(mask << (4 * (real % 2)));
          ++real;
        }
        bits |= uint64_t{1} << idx_[e];
      }
      w.put(bits);
    }
    if (compressed_) {
      w.put_bytes(masks.data(), masks.size());
      w.put_bytes(codes_.data(), static_cast<size_t>(nonzeros_));
    } else {
      w.put_bytes(val_.data(), sizeof(int32_t) * static_cast<size_t>(blocks_));
    }
    w.put_bytes(scale_.data(), sizeof(float) * static_cast<size_t>(N()));
    return true;
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

  // Blocks holding a nonzero code, column by column in quad order: column n's are [start[n], start[n+1]).
  struct ColumnBlocks {
    std::vector<size_t> start;
    std::vector<uint32_t> quad;
    std::vector<int32_t> word;  // the block's 4 codes, k ascending from the low byte
  };

  void init_view() {
    view_.K = K();
    view_.N = N();
    view_.kq = (K() + 3) / 4;
    view_.chunks = (view_.kq + kSpI8ChunkQuads - 1) / kSpI8ChunkQuads;
    const int64_t padded_n = (N() + 15) / 16 * 16;
    scale_.resize(static_cast<size_t>(padded_n));
    colsum_.resize(static_cast<size_t>(padded_n));
  }

  // The kernels' view of the buffers, once they are filled.
  void point_view() {
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

  // The layout from a column's blocks: ranges, the smaller of the two encodings, the view.
  void build(const ColumnBlocks& cb) {
    const int64_t N = this->N();
    auto range_of = [&](size_t b) { return static_cast<int64_t>(cb.quad[b]) / kSpI8ChunkQuads; };
    // Pass 1: blocks and nonzero codes per (output, chunk) range.
    const int64_t ranges = N * view_.chunks;
    std::vector<uint32_t> range_blocks(static_cast<size_t>(ranges)), range_codes(static_cast<size_t>(ranges));
    uint64_t codes = 0, odd = 0;
    // A column's blocks come range by range: counts stay in registers until the range changes.
    for (int64_t n = 0; n < N; ++n) {
      int64_t r = -1;
      uint32_t nb = 0, nc = 0;
      for (size_t b = cb.start[n]; b < cb.start[n + 1]; ++b) {
        const int64_t rb = n * view_.chunks + range_of(b);
        if (rb != r) {
          if (r >= 0) range_blocks[r] = nb, range_codes[r] = nc;
          r = rb, nb = 0, nc = 0;
        }
        const uint32_t w = static_cast<uint32_t>(cb.word[b]);
        ++nb;
        nc += ((w & 0xffu) != 0) + ((w & 0xff00u) != 0) + ((w & 0xff0000u) != 0) + ((w & 0xff000000u) != 0);
      }
      if (r >= 0) range_blocks[r] = nb, range_codes[r] = nc;
    }
    for (int64_t r = 0; r < ranges; ++r) {
      codes += range_codes[r];
      odd += range_blocks[r] & 1;
    }
    const uint64_t total = cb.quad.size();
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
    // Pass 2: fill (blocks arrive range by range, in quad order).
    uint32_t off = 0;
    for (int64_t n = 0; n < N; ++n) {
      int64_t range = -1;
      uint32_t e = 0;
      for (size_t b = cb.start[n]; b < cb.start[n + 1]; ++b) {
        const int64_t c = range_of(b);
        if (c != range) {
          range = c;
          e = ptr_[n * view_.chunks + c];
        }
        idx_[e] = static_cast<uint8_t>(cb.quad[b] - c * kSpI8ChunkQuads);
        if (compressed_) {
          // Branch-free: every code is written, only nonzero ones advance (codes_ has 64 bytes of slack).
          unsigned mask = 0;
          for (int l = 0; l < 4; ++l) {
            const int8_t code = static_cast<int8_t>((static_cast<uint32_t>(cb.word[b]) >> (8 * l)) & 0xff);
            mask |= static_cast<unsigned>(code != 0) << l;
            codes_[off] = code;
            off += code != 0;
          }
          nib_[e >> 1] |= static_cast<uint8_t>(mask << (4 * (e & 1)));
        } else {
          val_[e] = cb.word[b];
        }
        ++e;
      }
    }
    point_view();
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

std::unique_ptr<PackedWeights> pack_sparse_int8_csc(const CscMatrix& W, int64_t K, int64_t N, const PackOptions& opts) {
  return std::make_unique<SparseInt8>(SparseInt8::FromCsc{}, W, K, N, opts.number("perChannel", 1.0) != 0.0, opts.isa);
}

std::unique_ptr<PackedWeights> unpack_sparse_int8(const uint8_t* bytes, size_t size, int64_t K, int64_t N, Isa isa) {
  return std::make_unique<SparseInt8>(SparseInt8::FromBytes{}, bytes, size, K, N, isa);
}

}  // namespace

SPARQ_REGISTER_FORMAT(sparse_int8, "sparse-int8", pack_sparse_int8);
SPARQ_REGISTER_UNPACKER(sparse_int8, "sparse-int8", unpack_sparse_int8);
SPARQ_REGISTER_CSC_PACKER(sparse_int8, "sparse-int8", pack_sparse_int8_csc);

}  // namespace sparq
