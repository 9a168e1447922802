// gemm_s8: int8 x int8 -> int32 on tensor cores, dequantized in the epilogue. mma.sync m16n8k32
// everywhere (sm_80+); on Hopper, shapes that fill the GPU go to the wgmma kernel once it has
// proven itself (gemm_s8_wgmma.cu).
#include "gemm_launch.h"
#include "gemm_mma_launch.cuh"

namespace sparq::cuda {
namespace detail {
bool wgmma_s8_usable();
void launch_gemm_s8_wgmma(const MmaGemmParams& p, cudaStream_t s);
}  // namespace detail

namespace {
detail::MmaGemmParams checked_params(const GemmS8Args& p) {
  detail::check_dims(p.M, p.N, p.K);
  detail::check_operand(p.a, p.lda, p.K, p.M, 16, "A (int8 activations)");
  detail::check_operand(p.b, p.ldb, p.K, p.N, 16, "B (int8 weights)");
  detail::check_operand(p.c, p.ldc, p.N, p.M, 1, "C (output)");
  return {p.a, p.lda, p.b, p.ldb, int(p.M), int(p.N), int(p.K), p.scale_a, p.scale_b, p.bias, int(p.act), p.c, p.ldc};
}
}  // namespace

void gemm_s8(const GemmS8Args& p, Stream s) {
  const detail::MmaGemmParams q = checked_params(p);
  if (p.M == 0 || p.N == 0) return;
  require_device();
  // The wgmma kernel's 128x256 tiles must fill the GPU; smaller problems stay on mma.sync's tiles.
  const int64_t wgmma_tiles = ((p.M + 127) / 128) * ((p.N + 255) / 256);
  if (p.M > 16 && wgmma_tiles >= device_info().sms && detail::wgmma_s8_usable())
    detail::launch_gemm_s8_wgmma(q, s);
  else
    detail::dispatch_mma_gemm<detail::OpS8>(q, s);
}

void gemm_s8_mma(const GemmS8Args& p, Stream s) {
  const detail::MmaGemmParams q = checked_params(p);
  if (p.M == 0 || p.N == 0) return;
  require_device();
  detail::dispatch_mma_gemm<detail::OpS8>(q, s);
}

}  // namespace sparq::cuda
