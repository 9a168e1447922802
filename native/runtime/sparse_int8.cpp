// The 'sparse-int8' format: s8 weights with per-output scales, u8 activations quantized per row at
// call time (sparq/quantize.h, shared with the 'int8' format), exact s32 accumulation and the
// dequantizing epilogue (sparq/spmm_int8.h). Weights are quantized exactly as the 'int8' format does
// (pack_int8_weights: symmetric, round half to even; 7-bit on the AVX2 path) and stored as 1x4 blocks
// ("words": block-pruned weights) or as single nonzeros ("nonzeros": random sparsity, where about 34%
// of blocks survive 90% sparsity holding ~1.2 codes each). K is limited to 65536 (exact s32 accumulators).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "sparq/aligned.h"
#include "sparq/error.h"
#include "sparq/gemm_f32.h"
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

// The unpacker's check of one output's codes (sum_checked_codes_avx512's portable twin): their sum,
// `bad` set where a code is 0 or outside [-weight_max, weight_max]. Branch-free over ints: a bool chain
// compiles to a store-forwarding chain through the stack.
int32_t sum_checked_codes(const int8_t* codes, int64_t n, int weight_max, bool& bad) {
  int32_t sum = 0;
  int wrong = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int code = codes[i];
    wrong |= (code == 0) | (code < -weight_max) | (code > weight_max);
    sum += code;
  }
  bad |= wrong != 0;
  return sum;
}

// The words layout's check of one output's blocks (sum_checked_words_avx512's portable twin): their
// codes' sum, `bad` set for an empty word or a code outside [-weight_max, weight_max], `nonzero` grown
// by the nonzero codes.
int32_t sum_checked_words(const int32_t* words, int64_t n, int weight_max, bool& bad, int64_t& nonzero) {
  int32_t sum = 0;
  int wrong = 0;
  int64_t nz = 0;
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t word = static_cast<uint32_t>(words[i]);
    wrong |= word == 0;
    for (int l = 0; l < 4; ++l) {
      const int code = static_cast<int8_t>((word >> (8 * l)) & 0xff);
      wrong |= (code < -weight_max) | (code > weight_max);
      nz += code != 0;
      sum += code;
    }
  }
  bad |= wrong != 0;
  nonzero += nz;
  return sum;
}

// The nonzeros layout when it is the smaller one (2 bytes per nonzero against 5 per block) and blocks
// hold at most ~1.6 nonzeros on average: past that the xt kernel's one vpdpbusd per element would do
// more work than per block (random sparsity below ~75%).
bool prefer_nonzeros(int64_t blocks, int64_t nonzeros) { return 2 * nonzeros < 5 * blocks && 10 * nonzeros <= 16 * blocks; }

// Read-ahead padding after the element arrays: the AVX-512 kernels load whole vectors (16 words, 64
// codes or offsets) from any element and mask the lanes past its range.
constexpr size_t kElementPad = 64;

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
    int8_column_scales(maxabs, finite, per_channel, weight_max, scale_.data());
    double max_err = 0, sum_err2 = 0, sum_w2 = 0;
    // Blocks are written branch-free (a new quad opens a block): slot counts the blocks so far.
    ColumnBlocks cb;
    cb.start.resize(static_cast<size_t>(N + 1));
    cb.quad.resize(static_cast<size_t>(col_ptr[N]) + 1);
    cb.word.resize(static_cast<size_t>(col_ptr[N]) + 1);
    uint32_t* quads = cb.quad.data();
    int32_t* words = cb.word.data();
    size_t slot = 0;
    for (int64_t n = 0; n < N; ++n) {
      const float s = scale_[n];
      int32_t colsum = 0;
      int64_t open = -1;  // the quad of the block being filled (slot - 1)
      uint32_t word = 0;
      double col_max = 0, col_err2 = 0, col_w2 = 0;
      const int32_t j0 = col_ptr[n], j1 = std::isnan(s) ? j0 : col_ptr[n + 1];  // NaN scale: codes stay 0
      for (int32_t j = j0; j < j1; ++j) {
        const float w = values[j];
        const int8_t code = int8_code(w, s, weight_max);
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
    read_signature(r, fmt, kSerialMagic, kSerialVersion);
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
    const bool masked = layout == 1;  // 4-bit masks + nonzero codes (the nonzeros layout), else words
    const int64_t ranges = N * view_.chunks;
    const int64_t blocks = blocks_, nonzeros = nonzeros_;
    if (blocks < 0 || blocks > N * view_.kq || nonzeros < 0 || nonzeros > 4 * blocks) invalid_packed(fmt, "their block counts are impossible");
    const uint64_t need = static_cast<uint64_t>(ranges) * 8 + (masked ? static_cast<uint64_t>(blocks + 1) / 2 + static_cast<uint64_t>(nonzeros) : static_cast<uint64_t>(blocks) * 4) + static_cast<uint64_t>(N) * 4;
    if (r.left() != need) invalid_packed(fmt, "they are " + std::to_string(r.left()) + " bytes long where " + std::to_string(need) + " are expected (truncated?)");
    std::vector<uint64_t> bitmap(static_cast<size_t>(ranges));
    r.get_bytes(bitmap.data(), sizeof(uint64_t) * bitmap.size());
    uint64_t real = 0;
    // Only the last chunk of each output can be short of 64 quads.
    const int64_t last_quads = view_.kq - (view_.chunks - 1) * kSpI8ChunkQuads;
    for (int64_t rg = 0; rg < ranges; ++rg) real += static_cast<uint64_t>(popcount64(bitmap[rg]));
    if (last_quads < 64)
      for (int64_t rg = view_.chunks - 1; rg < ranges; rg += view_.chunks)
        if ((bitmap[rg] >> last_quads) != 0) invalid_packed(fmt, "a block lies past K");
    if (real != static_cast<uint64_t>(blocks)) invalid_packed(fmt, "their bitmaps do not hold their block count");
    // The layout follows from the counts (as packing chooses it); bytes that say otherwise are damaged.
    nonzero_layout_ = prefer_nonzeros(blocks, nonzeros);
    if (nonzero_layout_ != masked) invalid_packed(fmt, "their layout is not the one their counts call for");
    elements_ = masked ? nonzeros : blocks;
    ptr_.resize(static_cast<size_t>(ranges + 1));
    // Masked: a range's blocks write 4 offsets each before their count is checked (at most 4·64 bytes
    // past the range's start, which is checked to lie within the elements).
    idx_.resize(static_cast<size_t>(elements_) + (masked ? 4 * kSpI8ChunkQuads : 0) + kElementPad);
    std::vector<uint8_t> masks;
    if (masked) {
      masks.resize(static_cast<size_t>(blocks + 1) / 2 + 16);  // + the fast path's read-ahead
      codes_.resize(static_cast<size_t>(elements_) + kElementPad);
      r.get_bytes(masks.data(), static_cast<size_t>(blocks + 1) / 2);
      r.get_bytes(codes_.data(), static_cast<size_t>(nonzeros));  // already in the layout's order
    } else {
      val_.resize(static_cast<size_t>(elements_) + kElementPad);
      r.get_bytes(val_.data(), sizeof(int32_t) * static_cast<size_t>(blocks));
    }
    r.get_bytes(scale_.data(), sizeof(float) * static_cast<size_t>(N));
    // Offsets from the maps (and masks): 4 offsets written per block, as many kept as its mask has bits
    // (the slack above), or the fast path's vpcompressb. Every mask is checked against K's tail.
    static constexpr uint8_t kBits4[16] = {0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};
    static constexpr uint32_t kLanes[16] = {0,          0,          1,          0x0100,     2,          0x0200,
                                            0x0201,     0x020100,   3,          0x0300,     0x0301,     0x030100,
                                            0x0302,     0x030200,   0x030201,   0x03020100};  // set bits, a byte each
    const unsigned tail_lanes = (1u << (K - 4 * (view_.kq - 1))) - 1u;  // lanes of the last quad within K
    uint32_t past_k_bytes = 0;  // the bytes of a word whose lanes lie past K
    for (int l = 0; l < 4; ++l)
      if (!((tail_lanes >> l) & 1u)) past_k_bytes |= 0xffu << (8 * l);
    uint64_t b = 0, e = 0;
    int64_t word_codes = 0;
#if defined(__x86_64__) || defined(__i386__)
    const bool fast_offsets = cpu_features().bmi2 && cpu_features().avx512vbmi2 && active_isa() == Isa::avx512;
#endif
    bool codes_ok = true;
    // One pass, output by output: offsets, checks, and the column sums (recomputed, not trusted).
    for (int64_t n = 0; n < N; ++n) {
      int32_t colsum = 0;
      const uint64_t e_first = e;
      for (int64_t c = 0; c < view_.chunks; ++c) {
        const int64_t rg = n * view_.chunks + c;
        ptr_[rg] = static_cast<uint32_t>(e);
        if (masked) {
          if (e > static_cast<uint64_t>(elements_)) invalid_packed(fmt, "their masks name more codes than they hold");
#if defined(__x86_64__) || defined(__i386__)
          if (fast_offsets) {
            const int kmax = static_cast<int>(std::min<int64_t>(4 * kSpI8ChunkQuads, K - c * 4 * kSpI8ChunkQuads));
            const int64_t got = nonzero_offsets_avx512(bitmap[rg], masks.data(), b, kmax, idx_.data() + e);
            if (got < 0) invalid_packed(fmt, "a stored block holds no code, or one past K");
            e += static_cast<uint64_t>(got);
            b += static_cast<uint64_t>(popcount64(bitmap[rg]));
            continue;
          }
#endif
          // Branch-free per block: offsets written, the count and an empty mask checked after the range.
          unsigned empty = 0, mask = 0;
          for (uint64_t bits = bitmap[rg]; bits; bits &= bits - 1, ++b) {
            const uint32_t q = static_cast<uint32_t>(ctz64(bits));
            mask = (masks[b >> 1] >> (4 * (b & 1))) & 0xfu;
            empty |= mask == 0;
            const uint32_t set = kLanes[mask] + 0x04040404u * q;
            std::memcpy(idx_.data() + e, &set, 4);
            e += kBits4[mask];
          }
          // The last quad of K may hold fewer than 4 k: its block (the range's last) must not name more.
          const int64_t last_q = view_.kq - 1 - c * kSpI8ChunkQuads;
          const bool holds_last = last_q < kSpI8ChunkQuads && ((bitmap[rg] >> last_q) & 1u);
          if (empty || (holds_last && (mask & ~tail_lanes) != 0)) invalid_packed(fmt, "a stored block holds no code, or one past K");
          continue;
        }
        // Words: the offsets here, the codes checked per output below. A block at K's last quad (the
        // range's last, as no block lies past K) must hold no code in the lanes past K.
        for (uint64_t bits = bitmap[rg]; bits; bits &= bits - 1, ++b) idx_[e++] = static_cast<uint8_t>(ctz64(bits));
        const int64_t last_q = view_.kq - 1 - c * kSpI8ChunkQuads;
        if (last_q < kSpI8ChunkQuads && ((bitmap[rg] >> last_q) & 1u) && e <= static_cast<uint64_t>(elements_))
          codes_ok &= (static_cast<uint32_t>(val_[e - 1]) & past_k_bytes) == 0;
      }
      if (e > static_cast<uint64_t>(elements_)) invalid_packed(fmt, "their masks name more codes than they hold");
      if (!masked) {
        const int32_t* words = val_.data() + e_first;
        const int64_t count = static_cast<int64_t>(e - e_first);
        bool bad = false;
#if defined(__x86_64__) || defined(__i386__)
        if (fast_offsets) colsum += sum_checked_words_avx512(words, count, weight_max, bad, word_codes);
        else
#endif
          colsum += sum_checked_words(words, count, weight_max, bad, word_codes);
        codes_ok &= !bad;
      } else {
        const int8_t* codes = codes_.data() + e_first;
        const int64_t count = static_cast<int64_t>(e - e_first);
        bool bad = false;
#if defined(__x86_64__) || defined(__i386__)
        if (fast_offsets) colsum += sum_checked_codes_avx512(codes, count, weight_max, bad);
        else
#endif
          colsum += sum_checked_codes(codes, count, weight_max, bad);
        codes_ok &= !bad;
      }
      colsum_[n] = colsum;
    }
    ptr_[ranges] = static_cast<uint32_t>(e);
    if (e != static_cast<uint64_t>(elements_) || (masked && blocks & 1 && masks.back() >> 4)) invalid_packed(fmt, "their masks do not match their codes");
    if (!masked && word_codes != nonzeros) invalid_packed(fmt, "their nonzero count does not match their codes");
    if (!codes_ok) invalid_packed(fmt, "a weight code is out of range");
    blocks_ = blocks;
    nonzeros_ = nonzeros;
    point_view();
  }

  // Both layouts: a header, one 64-bit map of the 1x4 blocks holding codes per (output, chunk) range
  // (bit q: the block at quad q of the chunk), then the words (words layout) or the blocks' 4-bit masks,
  // two to a byte, and the nonzero codes (nonzeros layout), then the scales. The maps stand in for
  // pointers and indices: smaller, and nothing in them can point out of range.
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
    w.put(static_cast<uint32_t>(nonzero_layout_ ? 1 : 0));
    w.put(uint32_t{0});
    // Per range: the map of quads holding a stored element; nonzeros also give each block's 4-bit mask
    // (two to a byte, across ranges) and their codes in order.
    std::vector<uint8_t> masks;
    std::vector<int8_t> codes;
    masks.reserve(static_cast<size_t>(blocks_ + 1) / 2);
    codes.reserve(static_cast<size_t>(nonzero_layout_ ? nonzeros_ : 0));
    size_t block = 0;
    for (int64_t rg = 0; rg < ranges; ++rg) {
      uint64_t bits = 0;
      for (uint32_t e = ptr_[rg]; e < ptr_[rg + 1]; ++e) {
        const int64_t q = element_quad(view_, e);
        if (nonzero_layout_) {
          const bool fresh = !((bits >> q) & 1u);
          if (fresh) {
            if (block % 2 == 0) masks.push_back(0);
            ++block;
          }
          masks.back() |= static_cast<uint8_t>(1u << ((idx_[e] & 3) + 4 * ((block - 1) % 2)));
          codes.push_back(codes_[e]);
        }
        bits |= uint64_t{1} << q;
      }
      w.put(bits);
    }
    if (nonzero_layout_) {
      w.put_bytes(masks.data(), masks.size());
      w.put_bytes(codes.data(), codes.size());
    } else {
      w.put_bytes(val_.data(), sizeof(int32_t) * static_cast<size_t>(blocks_));
    }
    w.put_bytes(scale_.data(), sizeof(float) * static_cast<size_t>(N()));
    return true;
  }

  const char* format() const override { return "sparse-int8"; }
  size_t bytes() const override {
    // The elements as packing sizes them (an unpacked handle's offsets carry a few hundred bytes of
    // scratch slack on top: not counted, so a handle reports the same bytes however it was made).
    const size_t per_element = nonzero_layout_ ? 2 : 5;
    return sizeof(*this) + ptr_.bytes() + (static_cast<size_t>(elements_) + kElementPad) * per_element + scale_.bytes() + colsum_.bytes();
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
        uint8_t* dst = xt + tile * tile_bytes;
        if (rows < MT) std::memset(dst, 0, static_cast<size_t>(tile_bytes));
        // Quads are 32-bit elements: the fp32 transpose moves them bit for bit.
        gemm_f32_kernels(isa())->pack_a(reinterpret_cast<const float*>(xq + m0 * kp), kp / 4, static_cast<int>(rows), view_.kq,
                                        reinterpret_cast<float*>(dst), MT);
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
    view_.val = nonzero_layout_ ? nullptr : val_.data();
    view_.codes = nonzero_layout_ ? codes_.data() : nullptr;
    view_.scale = scale_.data();
    view_.colsum = colsum_.data();
  }

  // The layout from a column's blocks: ranges, the layout (prefer_nonzeros), the view.
  void build(const ColumnBlocks& cb) {
    const int64_t N = this->N();
    auto range_of = [&](size_t b) { return static_cast<int64_t>(cb.quad[b]) / kSpI8ChunkQuads; };
    auto codes_in = [](uint32_t w) {
      return static_cast<uint32_t>(((w & 0xffu) != 0) + ((w & 0xff00u) != 0) + ((w & 0xff0000u) != 0) + ((w & 0xff000000u) != 0));
    };
    // Pass 1: blocks and nonzero codes per (output, chunk) range.
    const int64_t ranges = N * view_.chunks;
    std::vector<uint32_t> range_blocks(static_cast<size_t>(ranges)), range_codes(static_cast<size_t>(ranges));
    uint64_t codes = 0;
    for (int64_t n = 0; n < N; ++n)
      for (size_t b = cb.start[n]; b < cb.start[n + 1]; ++b) {
        const int64_t r = n * view_.chunks + range_of(b);
        const uint32_t c = codes_in(static_cast<uint32_t>(cb.word[b]));
        ++range_blocks[r];
        range_codes[r] += c;
        codes += c;
      }
    if (codes > 0xffffffffull) throw invalid_argument("Expected fewer than 2^32 nonzeros for format 'sparse-int8'");
    blocks_ = static_cast<int64_t>(cb.quad.size());
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
    idx_.resize(static_cast<size_t>(elements_) + kElementPad);
    if (nonzero_layout_)
      codes_.resize(static_cast<size_t>(elements_) + kElementPad);
    else
      val_.resize(static_cast<size_t>(elements_) + kElementPad);
    // Pass 2: fill (blocks arrive range by range, in quad order).
    for (int64_t n = 0; n < N; ++n) {
      int64_t range = -1;
      uint32_t e = 0;
      for (size_t b = cb.start[n]; b < cb.start[n + 1]; ++b) {
        const int64_t c = range_of(b);
        if (c != range) {
          range = c;
          e = ptr_[n * view_.chunks + c];
        }
        const uint32_t q = cb.quad[b] - static_cast<uint32_t>(c * kSpI8ChunkQuads);
        if (!nonzero_layout_) {
          idx_[e] = static_cast<uint8_t>(q);
          val_[e++] = cb.word[b];
          continue;
        }
        for (int l = 0; l < 4; ++l) {
          const int8_t code = static_cast<int8_t>((static_cast<uint32_t>(cb.word[b]) >> (8 * l)) & 0xff);
          if (code == 0) continue;
          idx_[e] = static_cast<uint8_t>(4 * q + static_cast<uint32_t>(l));
          codes_[e++] = code;
        }
      }
    }
    point_view();
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

std::unique_ptr<PackedWeights> pack_sparse_int8_csc(const CscMatrix& W, int64_t K, int64_t N, const PackOptions& opts) {
  return std::make_unique<SparseInt8>(SparseInt8::FromCsc{}, W, K, N, opts.number("perChannel", 1.0) != 0.0, opts.isa);
}

}  // namespace

SPARQ_REGISTER_FORMAT(sparse_int8, "sparse-int8", pack_sparse_int8);
SPARQ_REGISTER_CSC_PACKER(sparse_int8, "sparse-int8", pack_sparse_int8_csc);

// Listed in packed_serialize.cpp (no static registrar: see there).
std::unique_ptr<PackedWeights> unpack_sparse_int8(const uint8_t* bytes, size_t size, int64_t K, int64_t N, Isa isa) {
  return std::make_unique<SparseInt8>(SparseInt8::FromBytes{}, bytes, size, K, N, isa);
}

}  // namespace sparq
