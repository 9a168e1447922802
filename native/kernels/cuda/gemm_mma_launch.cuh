// Launches one tile configuration of mma_gemm_kernel, and picks the configuration for a shape.
#pragma once
#include <cuda_runtime.h>

#include "cuda_check.h"
#include "gemm_mma.cuh"
#include "sparq/cuda.h"

namespace sparq::cuda::detail {

template <class Op, int BM, int BN, int WM, int WN, int STAGES, int MINB>
void launch_mma_gemm(const MmaGemmParams& p, cudaStream_t s) {
  auto kernel = mma_gemm_kernel<Op, BM, BN, WM, WN, STAGES, MINB>;
  constexpr int smem = mma_gemm_smem_bytes<BM, BN, STAGES>();
  constexpr int threads = (BM / WM) * (BN / WN) * 32;
  static const cudaError_t attr = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  check(attr, "cudaFuncSetAttribute(max dynamic shared memory)");
  dim3 grid((p.N + BN - 1) / BN, (p.M + BM - 1) / BM);
  if (grid.y > 65535) throw invalid_argument("GEMM M too large for one launch: " + std::to_string(p.M));
  kernel<<<grid, threads, smem, s>>>(p);
  SPARQ_CUDA_CHECK_LAUNCH("mma_gemm_kernel launch");
}

// Three tiles: 128x128 (8 warps of 64x32, 3 stages, 96 KiB: two CTAs per SM) when the grid fills the
// GPU; 64x64 (4 warps of 32x32, 4 stages) for mid-sized problems; 16x32 (1 warp, 6 stages) for decode
// shapes (M <= 16), where the work is streaming W^T and many small CTAs keep more bytes in flight.
template <class Op>
void dispatch_mma_gemm(const MmaGemmParams& p, cudaStream_t s) {
  const int64_t big_tiles = ((p.M + 127) / 128) * ((p.N + 127) / 128);
  const int sms = device_info().sms;
  if (p.M <= 16)
    launch_mma_gemm<Op, 16, 32, 16, 32, 6, 8>(p, s);
  else if (big_tiles >= sms)
    launch_mma_gemm<Op, 128, 128, 64, 32, 3, 2>(p, s);
  else
    launch_mma_gemm<Op, 64, 64, 32, 32, 4, 3>(p, s);
}

}  // namespace sparq::cuda::detail
