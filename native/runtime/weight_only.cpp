// The "int4" and "int8-wo" formats (sparq/weight_only.h): quantization and packing, the decode driver
// (activations quantized per group, output panels split over threads, weights streamed once for all
// M <= 64 rows, 8 at a time), the large-M path (panels dequantized to fp32 tiles for sgemm), and the
// serialiser a .sparq file stores.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "sparq/error.h"
#include "sparq/packed.h"
#include "sparq/packed_serialize.h"
#include "sparq/sgemm.h"
#include "sparq/threadpool.h"
#include "sparq/weight_only.h"

namespace sparq {

const WoKernels* wo_kernels(Isa isa) {
  const CpuFeatures& f = cpu_features();
  if (isa >= Isa::avx512 && f.avx512vnni && f.avx512bw) return &kWoAvx512Vnni;
  if (isa >= Isa::avx2 && f.avx2 && f.fma) return &kWoAvx2;
  return &kWoScalar;
}

namespace {

// Signature "WOQ1" and layout version of the serialised bytes (read by src/io/weight-only.ts too).
constexpr uint32_t kMagic = 0x31514f57;
constexpr uint32_t kVersion = 1;

// The header's K, N: K in the low 32 bits, N in the high ones (both < 2^31).
int64_t dims_word(int64_t K, int64_t N) { return K | (N << 32); }

int64_t code_index(int bits, int64_t kk, int64_t lane) {
  return bits == 4 ? (kk / 8) * 64 + lane * 4 + (kk % 4) : (kk / 4) * 64 + lane * 4 + (kk % 4);
}

void put_code(uint8_t* block, int bits, int64_t kk, int64_t lane, int code) {
  uint8_t& byte = block[code_index(bits, kk, lane)];
  if (bits == 8) byte = static_cast<uint8_t>(code);
  else if ((kk % 8) < 4) byte = static_cast<uint8_t>((byte & 0xf0) | code);
  else byte = static_cast<uint8_t>((byte & 0x0f) | (code << 4));
}

float round_bf16(float v) { return bf16_to_float(bf16_from_float(v)); }

struct GroupResult {
  float scale;
  int zero;
};

// One group's codes under the header's rules.
GroupResult quantize_group(const float* values, int64_t len, int bits, bool symmetric, int* codes) {
  const int qmax = bits == 4 ? 15 : 255;
  if (symmetric) {
    const int zero = bits == 4 ? 8 : 128;
    float extreme = 0.0f, maxabs = 0.0f;
    for (int64_t i = 0; i < len; ++i)
      if (std::fabs(values[i]) > maxabs) maxabs = std::fabs(values[i]), extreme = values[i];
    const float lo = bits == 4 ? -8.0f : -127.0f, hi = bits == 4 ? 7.0f : 127.0f;
    auto code_of = [&](float v, float scale) { return static_cast<int>(std::max(lo, std::min(hi, std::nearbyint(v / scale)))); };
    float scale = round_bf16(bits == 4 ? extreme / -8.0f : maxabs / 127.0f);
    if (bits == 4 && scale != 0.0f) {
      // The scale of least squared error among the extreme's range narrowed by kWoClipSteps steps (the
      // full range first: it wins ties, and it alone is exact on weights it dequantized).
      double best = std::numeric_limits<double>::infinity();
      float chosen = scale;
      for (int step = 0; step <= kWoClipSteps; ++step) {
        const float f = 1.0f - kWoClipStep * static_cast<float>(step);
        const float candidate = round_bf16(extreme * f / -8.0f);
        if (candidate == 0.0f || !std::isfinite(candidate)) continue;
        double err = 0;
        for (int64_t i = 0; i < len && err < best; ++i) {
          const double e = static_cast<double>(values[i]) - static_cast<double>(code_of(values[i], candidate)) * candidate;
          err += e * e;
        }
        if (err < best) best = err, chosen = candidate;
      }
      scale = chosen;
    }
    for (int64_t i = 0; i < len; ++i) codes[i] = scale == 0.0f ? zero : zero + code_of(values[i], scale);
    return {scale, zero};
  }
  // The parameters come from the range of the previous pass's dequantized values (the original ones
  // first), the codes always from the original values: once the parameters repeat, the dequantized
  // values re-quantize to themselves, and no pass quantizes an already rounded value again.
  GroupResult r{0.0f, 0};
  std::vector<float> source(values, values + len), deq(static_cast<size_t>(len));
  for (int pass = 0; pass < 8; ++pass) {
    float lo = 0.0f, hi = 0.0f;
    for (float v : source) lo = std::min(lo, v), hi = std::max(hi, v);
    const float scale = round_bf16((hi - lo) / static_cast<float>(qmax));
    const int zero = scale == 0.0f ? 0 : static_cast<int>(std::max(0.0f, std::min(static_cast<float>(qmax), std::nearbyint(-lo / scale))));
    if (pass > 0 && scale == r.scale && zero == r.zero) break;
    r = {scale, zero};
    for (int64_t i = 0; i < len; ++i) {
      const float q = scale == 0.0f ? 0.0f : std::nearbyint(values[i] / scale) + static_cast<float>(zero);
      codes[i] = static_cast<int>(std::max(0.0f, std::min(static_cast<float>(qmax), q)));
      deq[i] = static_cast<float>(codes[i] - zero) * scale;
    }
    source = deq;
  }
  return r;
}

}  // namespace

int WoPackedB::code(int64_t k, int64_t n) const {
  const int64_t g = k / group, kk = k % group;
  const uint8_t byte = block_codes(n / kWoPanel, g)[code_index(bits, kk, n % kWoPanel)];
  return bits == 8 ? byte : ((kk % 8) < 4 ? (byte & 0x0f) : (byte >> 4));
}

int WoPackedB::zero_point(int64_t k, int64_t n) const {
  const uint8_t* z = block_zeros(n / kWoPanel, k / group);
  return z ? z[n % kWoPanel] : fixed_zero();
}

float WoPackedB::scale(int64_t k, int64_t n) const { return bf16_to_float(block_scales(n / kWoPanel, k / group)[n % kWoPanel]); }

void WoPackedB::dequantize(int64_t n0, int64_t cols, float* out, int64_t ld) const {
  for (int64_t n = n0; n < n0 + cols; ++n) {
    const int64_t p = n / kWoPanel, lane = n % kWoPanel;
    for (int64_t g = 0; g < groups; ++g) {
      const uint8_t* block = block_codes(p, g);
      const uint8_t* z = block_zeros(p, g);
      const float s = bf16_to_float(block_scales(p, g)[lane]);
      const int zero = z ? z[lane] : fixed_zero();
      const int64_t k0 = g * group, len = std::min(group, K - k0);
      float* o = out + k0 * ld + (n - n0);
      for (int64_t kk = 0; kk < len; ++kk) {
        const uint8_t byte = block[code_index(bits, kk, lane)];
        const int c = bits == 8 ? byte : ((kk % 8) < 4 ? (byte & 0x0f) : (byte >> 4));
        o[kk * ld] = static_cast<float>(c - zero) * s;
      }
    }
  }
}

void pack_wo_weights(const float* W, int64_t K, int64_t N, int bits, int64_t group, bool symmetric, WoPackedB& b) {
  if (bits != 4 && bits != 8) throw invalid_argument("Expected 4 or 8 for options.bits but received " + std::to_string(bits));
  const int64_t step = bits == 4 ? 8 : 4;
  if (group < step || group > 4096 || group % step != 0)
    throw invalid_argument("Expected a multiple of " + std::to_string(step) + " in [" + std::to_string(step) +
                           ", 4096] for options.groupSize but received " + std::to_string(group));
  b.bits = bits;
  b.symmetric = symmetric;
  b.K = K;
  b.N = N;
  b.group = group;
  b.groups = (K + group - 1) / group;
  b.panels = (N + kWoPanel - 1) / kWoPanel;
  b.codes.resize(static_cast<size_t>(b.panels * b.groups * b.group_code_bytes()));
  b.scales.resize(static_cast<size_t>(b.panels * b.groups * kWoPanel));
  if (!symmetric) b.zeros.resize(static_cast<size_t>(b.panels * b.groups * kWoPanel));
  std::vector<float> values(static_cast<size_t>(group));
  std::vector<int> codes(static_cast<size_t>(group));
  double err2 = 0, norm2 = 0, max_err = 0;
  b.non_finite_groups = 0;
  for (int64_t p = 0; p < b.panels; ++p)
    for (int64_t g = 0; g < b.groups; ++g) {
      uint8_t* block = b.codes.data() + (p * b.groups + g) * b.group_code_bytes();
      uint16_t* scales = b.scales.data() + (p * b.groups + g) * kWoPanel;
      uint8_t* zeros = symmetric ? nullptr : b.zeros.data() + (p * b.groups + g) * kWoPanel;
      const int64_t k0 = g * group, len = std::min(group, K - k0);
      for (int64_t lane = 0; lane < kWoPanel; ++lane) {
        const int64_t n = p * kWoPanel + lane;
        GroupResult r{0.0f, symmetric ? b.fixed_zero() : 0};
        int64_t stored = 0;  // codes written from `codes` (the rest are padding)
        if (n < N) {
          bool finite = true;
          for (int64_t i = 0; i < len; ++i) {
            values[i] = W[(k0 + i) * N + n];
            if (!std::isfinite(values[i])) finite = false;
          }
          if (finite) {
            r = quantize_group(values.data(), len, bits, symmetric, codes.data());
            stored = len;
            for (int64_t i = 0; i < len; ++i) {
              const double w = W[(k0 + i) * N + n];
              const double e = std::fabs(w - static_cast<double>(codes[i] - r.zero) * r.scale);
              err2 += e * e, norm2 += w * w, max_err = std::max(max_err, e);
            }
          } else {
            r.scale = std::numeric_limits<float>::quiet_NaN();
            ++b.non_finite_groups;
          }
        }
        for (int64_t kk = 0; kk < group; ++kk) put_code(block, bits, kk, lane, kk < stored ? codes[kk] : r.zero);
        scales[lane] = bf16_from_float(r.scale);
        if (zeros) zeros[lane] = static_cast<uint8_t>(r.zero);
      }
    }
  b.max_abs_error = max_err;
  b.rel_rms_error = norm2 > 0 ? std::sqrt(err2 / norm2) : 0.0;
}

namespace {

class WeightOnly final : public PackedWeights {
 public:
  WeightOnly(WoPackedB&& b, Isa isa) : PackedWeights(b.K, b.N, isa), b_(std::move(b)), kernels_(wo_kernels(isa)) {}

  const char* format() const override { return b_.bits == 4 ? "int4" : "int8-wo"; }
  size_t bytes() const override { return b_.bytes() + sizeof(*this); }
  void describe(std::vector<InfoEntry>& info) const override {
    info.push_back({"kernel", 0, kernels_->name, true});
    info.push_back({"bits", static_cast<double>(b_.bits), "", false});
    info.push_back({"groupSize", static_cast<double>(b_.group), "", false});
    info.push_back({"symmetric", b_.symmetric ? 1.0 : 0.0, "", false});
    info.push_back({"weightBytes", static_cast<double>(b_.bytes()), "", false});
    info.push_back({"weightMaxAbsError", b_.max_abs_error, "", false});
    info.push_back({"weightRelRmsError", b_.rel_rms_error, "", false});
    info.push_back({"nonFiniteGroups", static_cast<double>(b_.non_finite_groups), "", false});
    info.push_back({"activations", 0, "s8 symmetric per group (M <= 64), fp32 (M > 64)", true});
  }

  void matmul(const float* x, int64_t M, float* y, const Epilogue& ep, int threads) const override {
    const int64_t K = this->K(), N = this->N();
    const int t = threads_for_work(static_cast<double>(M) * K * N, threads);
    if (M > kWoStreamMaxRows) return matmul_tiles(x, M, y, ep, t);
    const int64_t ldq = b_.groups * b_.group;
    thread_local AlignedBuffer<int8_t> q_buffer;
    thread_local AlignedBuffer<float> scale_buffer;
    thread_local AlignedBuffer<float> sum_buffer;
    int8_t* q = q_buffer.reserve(static_cast<size_t>(M * ldq));
    float* scale = scale_buffer.reserve(static_cast<size_t>(M * b_.groups));
    float* sum = sum_buffer.reserve(static_cast<size_t>(M * b_.groups));
    quantize_wo_activations(x, M, K, b_.group, b_.groups, q, scale, sum);
    const WoActivations a{q, ldq, scale, sum, b_.groups};
    // Several chunks per thread so a thread slowed by the other tenant of its core doesn't hold all.
    const int64_t grain = std::max<int64_t>(1, b_.panels / (4 * t));
    ThreadPool::global().parallel_for(b_.panels, t, grain, [&](int64_t p0, int64_t p1) {
      if (M <= kWoMaxRows) return kernels_->gemv(b_, a, static_cast<int>(M), p0, p1, y, N, ep);
      // Up to kWoStreamMaxRows rows (a prompt): 8 at a time over one panel while it sits in L1.
      for (int64_t p = p0; p < p1; ++p)
        for (int64_t m0 = 0; m0 < M; m0 += kWoMaxRows) {
          const WoActivations part{q + m0 * ldq, ldq, scale + m0 * b_.groups, sum + m0 * b_.groups, b_.groups};
          kernels_->gemv(b_, part, static_cast<int>(std::min<int64_t>(kWoMaxRows, M - m0)), p, p + 1, y + m0 * N, N, ep);
        }
    });
  }

  bool serialize(std::vector<uint8_t>& out) const override {
    ByteWriter w(out);
    w.put(kMagic);
    w.put(kVersion);
    w.put(static_cast<uint32_t>(b_.bits));
    w.put(static_cast<uint32_t>(b_.symmetric ? 1 : 0));
    w.put(static_cast<int64_t>(b_.group));
    w.put(dims_word(K(), N()));
    w.put_bytes(b_.codes.data(), b_.codes.bytes());
    w.put_bytes(b_.scales.data(), b_.scales.bytes());
    if (!b_.symmetric) w.put_bytes(b_.zeros.data(), b_.zeros.bytes());
    return true;
  }

 private:
  // Prefill: blocks of columns dequantized into a thread's fp32 tile, multiplied with fp32 activations.
  void matmul_tiles(const float* x, int64_t M, float* y, const Epilogue& ep, int threads) const {
    const int64_t K = this->K(), N = this->N();
    constexpr int64_t kCols = 128;
    const int64_t blocks = (N + kCols - 1) / kCols;
    ThreadPool::global().parallel_for(blocks, std::min<int64_t>(threads, blocks), 1, [&](int64_t b0, int64_t b1) {
      thread_local AlignedBuffer<float> tile_buffer;
      float* tile = tile_buffer.reserve(static_cast<size_t>(K * kCols));
      for (int64_t blk = b0; blk < b1; ++blk) {
        const int64_t n0 = blk * kCols, cols = std::min(kCols, N - n0);
        b_.dequantize(n0, cols, tile, kCols);
        const Epilogue part{ep.bias ? ep.bias + n0 : nullptr, ep.act};
        sgemm(false, false, M, cols, K, 1.0f, x, K, tile, kCols, 0.0f, y + n0, N, 1, &part, isa());
      }
    });
  }

  WoPackedB b_;
  const WoKernels* kernels_;
};

std::unique_ptr<PackedWeights> pack_wo(const float* W, int64_t K, int64_t N, const PackOptions& opts, int bits) {
  const double group = opts.number("groupSize", 64);
  if (group != std::floor(group) || group < 1 || group > 1e6)
    throw invalid_argument("Expected an integer for options.groupSize but received " + std::to_string(group));
  WoPackedB b;
  pack_wo_weights(W, K, N, bits, static_cast<int64_t>(group), opts.number("symmetric", 1.0) != 0.0, b);
  return std::make_unique<WeightOnly>(std::move(b), opts.isa);
}

std::unique_ptr<PackedWeights> pack_int4(const float* W, int64_t K, int64_t N, const PackOptions& opts) { return pack_wo(W, K, N, opts, 4); }
std::unique_ptr<PackedWeights> pack_int8_wo(const float* W, int64_t K, int64_t N, const PackOptions& opts) { return pack_wo(W, K, N, opts, 8); }

std::unique_ptr<PackedWeights> unpack_wo(const uint8_t* bytes, size_t size, int64_t K, int64_t N, Isa isa, int bits, const char* format) {
  ByteReader r(bytes, size);
  if (r.get<uint32_t>() != kMagic) invalid_packed(format, "its bytes do not start with the format's signature");
  if (r.get<uint32_t>() != kVersion) invalid_packed(format, "they are of another layout version");
  if (r.get<uint32_t>() != static_cast<uint32_t>(bits)) invalid_packed(format, "they hold another code width");
  const uint32_t symmetric = r.get<uint32_t>();
  const int64_t group = r.get<int64_t>();
  // K and N (bytes from before they were recorded hold 0: their sizes are still checked below).
  const int64_t dims = r.get<int64_t>();
  if (dims != 0 && dims != dims_word(K, N)) invalid_packed(format, "their K, N differ from the weight's");
  const int64_t step = bits == 4 ? 8 : 4;
  if (symmetric > 1 || group < step || group > 4096 || group % step != 0) invalid_packed(format, "their header is damaged");
  WoPackedB b;
  b.bits = bits;
  b.symmetric = symmetric == 1;
  b.K = K;
  b.N = N;
  b.group = group;
  b.groups = (K + group - 1) / group;
  b.panels = (N + kWoPanel - 1) / kWoPanel;
  const size_t blocks = static_cast<size_t>(b.panels * b.groups);
  const size_t want = blocks * static_cast<size_t>(b.group_code_bytes()) + blocks * kWoPanel * 2 + (b.symmetric ? 0 : blocks * kWoPanel);
  if (r.left() != want) invalid_packed(format, "their size does not match K = " + std::to_string(K) + ", N = " + std::to_string(N));
  b.codes.resize(blocks * static_cast<size_t>(b.group_code_bytes()));
  r.get_bytes(b.codes.data(), b.codes.bytes());
  b.scales.resize(blocks * kWoPanel);
  r.get_bytes(b.scales.data(), b.scales.bytes());
  if (!b.symmetric) {
    b.zeros.resize(blocks * kWoPanel);
    r.get_bytes(b.zeros.data(), b.zeros.bytes());
    const int qmax = b.qmax();
    for (size_t i = 0; i < b.zeros.size(); ++i)
      if (b.zeros[i] > qmax) invalid_packed(format, "a zero point is out of range");
  }
  return std::make_unique<WeightOnly>(std::move(b), isa);
}

}  // namespace

SPARQ_REGISTER_FORMAT(int4, "int4", pack_int4);
SPARQ_REGISTER_FORMAT(int8_wo, "int8-wo", pack_int8_wo);

// Listed in packed_serialize.cpp (no static registrar: see there).
std::unique_ptr<PackedWeights> unpack_int4(const uint8_t* bytes, size_t size, int64_t K, int64_t N, Isa isa) {
  return unpack_wo(bytes, size, K, N, isa, 4, "int4");
}
std::unique_ptr<PackedWeights> unpack_int8_wo(const uint8_t* bytes, size_t size, int64_t K, int64_t N, Isa isa) {
  return unpack_wo(bytes, size, K, N, isa, 8, "int8-wo");
}

}  // namespace sparq
