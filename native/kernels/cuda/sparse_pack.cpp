// Host-side packing of unstructured (block = 1) and 1x4-block (block = 4) sparse fp16 weights for
// spmm_f16: CSR over the rows of W^T with u16 block indices, and the rows ordered by decreasing
// length (Sputnik's row swizzle) so the warps of one CTA carry similar amounts of work.
#include <algorithm>
#include <numeric>
#include <string>

#include "sparq/cuda.h"
#include "sparq/error.h"

namespace sparq::cuda {

SparseF16Host pack_sparse_f16(const float* wt, int64_t N, int64_t K, int block) {
  if (block != 1 && block != 4) throw invalid_argument("sparse block must be 1 or 4, got " + std::to_string(block));
  if (N <= 0 || K <= 0) throw invalid_argument("sparse weights need N > 0 and K > 0");
  const int64_t blocks = (K + block - 1) / block;
  if (blocks > 65536) throw invalid_argument("sparse fp16 weights support K <= " + std::to_string(65536 * block));
  if (N > (int64_t(1) << 30)) throw invalid_argument("sparse fp16 weights support N <= 2^30");
  SparseF16Host h;
  h.N = N;
  h.K = K;
  h.block = block;
  h.row_ptr.assign(static_cast<size_t>(N + 1), 0);
  for (int64_t n = 0; n < N; ++n) {
    const float* row = wt + n * K;
    for (int64_t b = 0; b < blocks; ++b) {
      bool any = false;
      for (int i = 0; i < block && b * block + i < K; ++i) any |= row[b * block + i] != 0.0f;
      if (!any) continue;
      h.cols.push_back(static_cast<uint16_t>(b));
      for (int i = 0; i < block; ++i) {
        const int64_t k = b * block + i;
        h.values.push_back(float_to_half(k < K ? row[k] : 0.0f));
      }
    }
    const size_t count = h.cols.size();
    if (count > size_t(INT32_MAX)) throw invalid_argument("sparse fp16 weights have too many nonzeros");
    h.row_ptr[static_cast<size_t>(n + 1)] = static_cast<int32_t>(count);
  }
  h.nnz_blocks = static_cast<int64_t>(h.cols.size());
  h.order.resize(static_cast<size_t>(N));
  std::iota(h.order.begin(), h.order.end(), 0);
  std::stable_sort(h.order.begin(), h.order.end(), [&](int32_t a, int32_t b) {
    return h.row_ptr[a + 1] - h.row_ptr[a] > h.row_ptr[b + 1] - h.row_ptr[b];
  });
  return h;
}

}  // namespace sparq::cuda
