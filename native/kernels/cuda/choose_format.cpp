// choose_device_format: which CUDA kernel a weight runs on when the caller asks for "cuda-auto" (what an
// InferenceSession with device: 'cuda' asks for), from its zeros and their pattern. Host only.
#include <cstdint>

#include "sparq/cuda.h"

namespace sparq::cuda {

DeviceFormat choose_device_format(const float* W, int64_t K, int64_t N, bool int8, bool allow_2to4) {
  // One pass over W[K][N]: nonzeros, nonzero 1x4 blocks along K (what the block format stores), and
  // whether every group of 4 consecutive k of every column holds at most 2 nonzeros.
  int64_t nnz = 0, blocks = 0;
  bool two_of_four = true;
  for (int64_t k0 = 0; k0 < K; k0 += 4) {
    const int64_t len = K - k0 < 4 ? K - k0 : 4;
    for (int64_t n = 0; n < N; ++n) {
      int group = 0;
      for (int64_t j = 0; j < len; ++j) group += W[(k0 + j) * N + n] != 0.0f;
      nnz += group;
      blocks += group > 0;
      two_of_four = two_of_four && group <= 2;
    }
  }
  const double total = static_cast<double>(K) * static_cast<double>(N);
  const double density = total > 0 ? static_cast<double>(nnz) / total : 1.0;
  if (int8) {
    if (two_of_four && allow_2to4) return DeviceFormat::int8_2to4;
    return density <= kSparseInt8MaxDensity ? DeviceFormat::sparse_f16 : DeviceFormat::int8;
  }
  if (density > kSparseF16MaxDensity) return DeviceFormat::f16;
  // Blocks pay when the nonzeros fill at least 3/4 of the 4 slots of the blocks they occupy.
  return blocks > 0 && nnz >= 3 * blocks ? DeviceFormat::block_f16 : DeviceFormat::sparse_f16;
}

}  // namespace sparq::cuda
