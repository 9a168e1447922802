// gemm_f16: fp16 x fp16 -> fp32 on tensor cores (mma.sync m16n8k16), bias and activation fused.
#include "gemm_launch.h"
#include "gemm_mma_launch.cuh"

namespace sparq::cuda {

void gemm_f16(const GemmF16Args& p, Stream s) {
  detail::check_dims(p.M, p.N, p.K);
  detail::check_operand(p.a, p.lda, p.K, p.M, 8, "A (fp16 activations)");
  detail::check_operand(p.b, p.ldb, p.K, p.N, 8, "B (fp16 weights)");
  detail::check_operand(p.c, p.ldc, p.N, p.M, 1, "C (output)");
  if (p.M == 0 || p.N == 0) return;
  require_device();
  detail::MmaGemmParams q{p.a, p.lda, p.b, p.ldb, int(p.M), int(p.N), int(p.K),
                          nullptr, nullptr, p.bias, int(p.act), p.c, p.ldc};
  detail::dispatch_mma_gemm<detail::OpF16>(q, s);
}

}  // namespace sparq::cuda
