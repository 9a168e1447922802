// The "int8" format: fp32 in, fp32 out, int8 inside. Weights quantized once (s8 symmetric, per output
// column by default, `perChannel: false` for one scale) and packed for the level's kernel; each call
// quantizes x per row to u8 (sparq/quantize.h) and runs the int8 GEMM with the dequantizing epilogue.
//
// Results: y ≈ x·W within the quantization bound (per output, a = row scale, b = column scale)
//     |y − x·W| <= a/2 · Σ_k |W[k][n]| + b/2 · Σ_k |x[m][k]| + K · a · b / 4   (+ fp32 rounding)
// which the tests check. Non-finite values: a row of x holding NaN/Inf gives a NaN output row; a column
// of W holding NaN/Inf gives a NaN output column (with perChannel: false, every output is NaN).
//
// Serialised (Int8F32::serialize, sparq/packed_serialize.h): the kernel's packed layout as it is, so a
// .sparq file's bytes are adopted with a copy and a check, no quantizing:
//   header 64 bytes: "SQI8" u32 version u32 isa i32 weightMax i32 group u32 perChannel i64 K i64 N
//                    i64 nonFiniteColumns f64 maxAbsError f64 relRmsError
//   s8 codes [groups · kq · group · 64] (Int8PackedB's layout, sparq/int8_gemm.h), f32 scales [N].
// Column sums are recomputed, not stored. The layout depends on the kernel's code range and panel group
// (7-bit AVX2 vs 8-bit VNNI, 1 or 2 panels per group): bytes for another kernel are refused (the caller
// re-packs from the weights).
#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "sparq/aligned.h"
#include "sparq/error.h"
#include "sparq/int8_gemm.h"
#include "sparq/packed.h"
#include "sparq/packed_serialize.h"
#include "sparq/quantize.h"
#include "sparq/threadpool.h"

namespace sparq {
namespace {

constexpr uint32_t kSerialMagic = 0x38495153;  // "SQI8"
constexpr uint32_t kSerialVersion = 1;

class Int8F32 final : public PackedWeights {
 public:
  Int8F32(const float* W, int64_t K, int64_t N, bool per_channel, Isa isa)
      : PackedWeights(K, N, isa), kernels_(int8_gemm_kernels(isa)) {
    pack_int8_weights(W, K, N, per_channel, kernels_->nr / kInt8PanelCols, kernels_->weight_max, b_);
  }

  // From serialize()'s bytes: every code in the kernel's range, padding zero, scales finite and positive
  // (NaN only for a column of zero codes: a column that held NaN/Inf), else ERR_INVALID_MODEL.
  struct FromBytes {};
  Int8F32(FromBytes, const uint8_t* bytes, size_t size, int64_t K, int64_t N, Isa isa)
      : PackedWeights(K, N, isa), kernels_(int8_gemm_kernels(isa)) {
    const char* fmt = "int8";
    ByteReader r(bytes, size);
    read_signature(r, fmt, kSerialMagic, kSerialVersion);
    (void)r.get<uint32_t>();  // the ISA packed for: informational, the kernel's code range and group decide
    const int32_t weight_max = r.get<int32_t>();
    const int32_t group = r.get<int32_t>();
    const uint32_t per_channel = r.get<uint32_t>();
    if (weight_max != kernels_->weight_max || group != kernels_->nr / kInt8PanelCols)
      invalid_packed(fmt, "they were packed for another kernel (codes up to " + std::to_string(weight_max) + ", " + std::to_string(group) +
                              " panels per group) than this CPU's " + kernels_->name + " (re-pack from the weights)");
    if (r.get<int64_t>() != K || r.get<int64_t>() != N) invalid_packed(fmt, "their K, N differ from the weight's");
    if (K > kInt8MaxK) invalid_packed(fmt, "their K is over the format's limit");
    if (per_channel > 1) invalid_packed(fmt, "their header is damaged");
    const int64_t non_finite = r.get<int64_t>();
    b_.max_abs_error = r.get<double>();
    b_.rel_rms_error = r.get<double>();
    if (!(b_.max_abs_error >= 0 && b_.rel_rms_error >= 0) || !std::isfinite(b_.max_abs_error) || !std::isfinite(b_.rel_rms_error))
      invalid_packed(fmt, "their error figures are not finite non-negative numbers");
    b_.K = K;
    b_.N = N;
    b_.kq = (K + 3) / 4;
    b_.group = group;
    b_.weight_max = weight_max;
    b_.per_channel = per_channel == 1;
    const int64_t panels = (N + kInt8PanelCols - 1) / kInt8PanelCols;
    b_.groups = (panels + group - 1) / group;
    const int64_t cols = b_.groups * group * kInt8PanelCols;
    const uint64_t data_bytes = static_cast<uint64_t>(b_.groups) * static_cast<uint64_t>(b_.kq) * static_cast<uint64_t>(group) * 64;
    const uint64_t need = data_bytes + static_cast<uint64_t>(N) * 4;
    if (r.left() != need) invalid_packed(fmt, "they are " + std::to_string(r.left()) + " bytes long where " + std::to_string(need) + " are expected (truncated?)");
    b_.data.resize(static_cast<size_t>(data_bytes));
    b_.colsum.resize(static_cast<size_t>(cols));
    b_.scale.resize(static_cast<size_t>(cols));
    r.get_bytes(b_.data.data(), static_cast<size_t>(data_bytes));
    r.get_bytes(b_.scale.data(), sizeof(float) * static_cast<size_t>(N));
    // Every code in range, in one flat pass (byte compares the compiler vectorises).
    const int8_t* d = b_.data.data();
    int wrong = 0;
    for (size_t i = 0; i < static_cast<size_t>(data_bytes); ++i) wrong |= (d[i] < -weight_max) | (d[i] > weight_max);
    if (wrong) invalid_packed(fmt, "a weight code is out of range");
    // Column sums, and which columns hold codes, per panel: its 64-byte rows (a quad of 16 columns) summed
    // lane-wise over K in 32-bit lanes, then folded 4 to a column. Padding (k >= K, n >= N) must be zero:
    // then no byte escapes the check and padded lanes add nothing.
    std::vector<uint8_t> any(static_cast<size_t>(cols), 0);
    const int64_t tail_k = K - 4 * (b_.kq - 1);  // k of the last quad within K (1..4)
    for (int64_t g = 0; g < b_.groups; ++g)
      for (int p = 0; p < group; ++p) {
        int32_t sum[64] = {};
        uint8_t nz[64] = {};
        const int8_t* row = d + (g * b_.kq * group + p) * 64;
        for (int64_t q = 0; q < b_.kq; ++q, row += group * 64)
          for (int i = 0; i < 64; ++i) {
            sum[i] += row[i];
            nz[i] |= static_cast<uint8_t>(row[i]);
          }
        const int64_t n0 = (g * group + p) * kInt8PanelCols;
        const int8_t* last = row - group * 64;  // the quad holding k = K - 1
        for (int j = 0; j < kInt8PanelCols; ++j) {
          b_.colsum[n0 + j] = sum[4 * j] + sum[4 * j + 1] + sum[4 * j + 2] + sum[4 * j + 3];
          any[n0 + j] = (nz[4 * j] | nz[4 * j + 1] | nz[4 * j + 2] | nz[4 * j + 3]) != 0;
          if (n0 + j >= N && any[n0 + j]) invalid_packed(fmt, "a padding code (past N) is not zero");
          for (int64_t l = tail_k; l < 4; ++l)
            if (last[4 * j + l] != 0) invalid_packed(fmt, "a padding code (past K) is not zero");
        }
      }
    int64_t nans = 0;
    for (int64_t n = 0; n < N; ++n) {
      const float s = b_.scale[n];
      if (std::isnan(s)) {
        if (any[n]) invalid_packed(fmt, "a column without a scale (NaN) holds codes");
        ++nans;
      } else if (!(s > 0.0f) || !std::isfinite(s)) {
        invalid_packed(fmt, "a scale is not a finite positive number");
      }
      if (!b_.per_channel && !(std::isnan(s) ? std::isnan(b_.scale[0]) : s == b_.scale[0])) invalid_packed(fmt, "the per-tensor scales differ");
    }
    if (nans != non_finite) invalid_packed(fmt, "their count of non-finite columns does not match their scales");
    b_.non_finite_columns = non_finite;
  }

  bool serialize(std::vector<uint8_t>& out) const override {
    ByteWriter w(out);
    w.put(kSerialMagic);
    w.put(kSerialVersion);
    w.put(static_cast<uint32_t>(isa()));
    w.put(static_cast<int32_t>(b_.weight_max));
    w.put(static_cast<int32_t>(b_.group));
    w.put(static_cast<uint32_t>(b_.per_channel ? 1 : 0));
    w.put(K());
    w.put(N());
    w.put(b_.non_finite_columns);
    w.put(b_.max_abs_error);
    w.put(b_.rel_rms_error);
    w.put_bytes(b_.data.data(), b_.data.bytes());
    w.put_bytes(b_.scale.data(), sizeof(float) * static_cast<size_t>(N()));
    return true;
  }

  const char* format() const override { return "int8"; }
  size_t bytes() const override { return b_.bytes() + sizeof(*this); }
  void describe(std::vector<InfoEntry>& info) const override {
    info.push_back({"kernel", 0, kernels_->name, true});
    info.push_back({"perChannel", b_.per_channel ? 1.0 : 0.0, "", false});
    info.push_back({"weightBits", kernels_->weight_max == 127 ? 8.0 : 7.0, "", false});
    info.push_back({"weightMaxAbsError", b_.max_abs_error, "", false});
    info.push_back({"weightRelRmsError", b_.rel_rms_error, "", false});
    info.push_back({"nonFiniteColumns", static_cast<double>(b_.non_finite_columns), "", false});
    info.push_back({"activations", 0, "u8 asymmetric per row, dynamic", true});
  }

  void matmul(const float* x, int64_t M, float* y, const Epilogue& ep, int threads) const override {
    const int64_t K = this->K(), lda = int8_a_stride(K);
    thread_local AlignedBuffer<uint8_t> a_buffer;
    thread_local AlignedBuffer<float> scale_buffer;
    thread_local AlignedBuffer<int32_t> zero_buffer;
    uint8_t* qa = a_buffer.reserve(static_cast<size_t>(M * lda));
    float* sa = scale_buffer.reserve(static_cast<size_t>(M));
    int32_t* za = zero_buffer.reserve(static_cast<size_t>(M));
    const Isa level = isa();
    // Quantizing is O(M·K): split rows across threads only when there are many.
    const int qt = M * K >= (1 << 16) ? threads_for_work(static_cast<double>(M) * K * this->N() / 4.0, threads) : 1;
    ThreadPool::global().parallel_for(M, qt, (M + qt - 1) / qt, [&](int64_t m0, int64_t m1) {
      quantize_rows_u8(level, x + m0 * K, m1 - m0, K, lda, qa + m0 * lda, sa + m0, za + m0, false);
    });
    int8_gemm(*kernels_, b_, Int8QuantizedA{qa, lda, sa, za}, M, y, ep, threads);
  }

 private:
  const Int8GemmKernels* kernels_;
  Int8PackedB b_;
};

std::unique_ptr<PackedWeights> pack_int8(const float* W, int64_t K, int64_t N, const PackOptions& opts) {
  return std::make_unique<Int8F32>(W, K, N, opts.number("perChannel", 1.0) != 0.0, opts.isa);
}

}  // namespace

SPARQ_REGISTER_FORMAT(int8, "int8", pack_int8);

// Listed in packed_serialize.cpp (no static registrar: see there).
std::unique_ptr<PackedWeights> unpack_int8(const uint8_t* bytes, size_t size, int64_t K, int64_t N, Isa isa) {
  return std::make_unique<Int8F32>(Int8F32::FromBytes{}, bytes, size, K, N, isa);
}

}  // namespace sparq
