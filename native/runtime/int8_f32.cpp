// The "int8" format: fp32 in, fp32 out, int8 inside. Weights quantized once (s8 symmetric, per output
// column by default, `perChannel: false` for one scale) and packed for the level's kernel; each call
// quantizes x per row to u8 (sparq/quantize.h) and runs the int8 GEMM with the dequantizing epilogue.
//
// Results: y ≈ x·W within the quantization bound (per output, a = row scale, b = column scale)
//     |y − x·W| <= a/2 · Σ_k |W[k][n]| + b/2 · Σ_k |x[m][k]| + K · a · b / 4   (+ fp32 rounding)
// which the tests check. Non-finite values: a row of x holding NaN/Inf gives a NaN output row; a column
// of W holding NaN/Inf gives a NaN output column (with perChannel: false, every output is NaN).
#include <cmath>
#include <memory>

#include "sparq/aligned.h"
#include "sparq/int8_gemm.h"
#include "sparq/packed.h"
#include "sparq/quantize.h"
#include "sparq/threadpool.h"

namespace sparq {
namespace {

class Int8F32 final : public PackedWeights {
 public:
  Int8F32(const float* W, int64_t K, int64_t N, bool per_channel, Isa isa)
      : PackedWeights(K, N, isa), kernels_(int8_gemm_kernels(isa)) {
    pack_int8_weights(W, K, N, per_channel, kernels_->nr / kInt8PanelCols, kernels_->weight_max, b_);
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

}  // namespace sparq
