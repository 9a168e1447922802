// gemm_s8: int8 x int8 -> int32 on tensor cores (mma.sync m16n8k32), dequantized in the epilogue.
#include "gemm_launch.h"
#include "gemm_mma_launch.cuh"

namespace sparq::cuda {

void gemm_s8(const GemmS8Args& p, Stream s) {
  detail::check_dims(p.M, p.N, p.K);
  detail::check_operand(p.a, p.lda, p.K, p.M, 16, "A (int8 activations)");
  detail::check_operand(p.b, p.ldb, p.K, p.N, 16, "B (int8 weights)");
  detail::check_operand(p.c, p.ldc, p.N, p.M, 1, "C (output)");
  if (p.M == 0 || p.N == 0) return;
  require_device();
  detail::MmaGemmParams q{p.a, p.lda, p.b, p.ldb, int(p.M), int(p.N), int(p.K),
                          p.scale_a, p.scale_b, p.bias, int(p.act), p.c, p.ldc};
  detail::dispatch_mma_gemm<detail::OpS8>(q, s);
}

}  // namespace sparq::cuda
