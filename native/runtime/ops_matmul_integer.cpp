// MatMulInteger: (A - a_zp) · (B - b_zp) -> int32 with numpy batch broadcasting. Per batch element,
// op(B) minus its zero points is widened once to int16 (|v| <= 255), each A row likewise, and the rows
// accumulate in uint32 (wrapping, never UB) in a loop over contiguous N that the compiler vectorises.
#include <algorithm>
#include <string>
#include <vector>

#include "sparq/aligned.h"
#include "sparq/error.h"
#include "sparq/ops.h"
#include "sparq/sgemm.h"
#include "sparq/threadpool.h"

namespace sparq {
namespace {

inline int32_t load_q(DType t, const void* p, int64_t i) {
  return t == DType::uint8 ? static_cast<int32_t>(static_cast<const uint8_t*>(p)[i])
                           : static_cast<int32_t>(static_cast<const int8_t*>(p)[i]);
}

void gemm_rows(int64_t m0, int64_t m1, int64_t N, int64_t K, DType a_type, const void* A, const void* a_zp,
               int64_t a_zp_count, const int16_t* Bw, int32_t* Y) {
  std::vector<int16_t> arow(static_cast<size_t>(K));
  std::vector<uint32_t> acc(static_cast<size_t>(N));
  for (int64_t m = m0; m < m1; ++m) {
    const int32_t za = a_zp ? load_q(a_type, a_zp, a_zp_count == 1 ? 0 : m) : 0;
    for (int64_t k = 0; k < K; ++k) arow[static_cast<size_t>(k)] = static_cast<int16_t>(load_q(a_type, A, m * K + k) - za);
    std::fill(acc.begin(), acc.end(), 0u);
    uint32_t* ac = acc.data();
    for (int64_t k = 0; k < K; ++k) {
      const int32_t av = arow[static_cast<size_t>(k)];
      if (av == 0) continue;
      const int16_t* b = Bw + k * N;
      for (int64_t n = 0; n < N; ++n) ac[n] += static_cast<uint32_t>(av * static_cast<int32_t>(b[n]));
    }
    for (int64_t n = 0; n < N; ++n) Y[m * N + n] = static_cast<int32_t>(acc[static_cast<size_t>(n)]);
  }
}

}  // namespace

void matmul_integer(DType a_type, const void* A, const Shape& a_shape, DType b_type, const void* B,
                    const Shape& b_shape, const void* a_zp, int64_t a_zp_count, const void* b_zp, int64_t b_zp_count,
                    int32_t* Y, const OpContext& ctx) {
  for (DType t : {a_type, b_type})
    if (t != DType::uint8 && t != DType::int8)
      throw Error("ERR_UNSUPPORTED_DTYPE", std::string("MatMulInteger operands must be uint8 or int8, not ") + dtype_name(t));
  const Shape out = matmul_output_shape(a_shape, b_shape);
  const int64_t K = a_shape.dims[a_shape.rank - 1];
  const int64_t M = a_shape.rank >= 2 ? a_shape.dims[a_shape.rank - 2] : 1;
  const int64_t N = b_shape.rank >= 2 ? b_shape.dims[b_shape.rank - 1] : 1;
  if (a_zp && a_zp_count != 1 && a_zp_count != M)
    throw invalid_argument("MatMulInteger: a_zero_point must hold 1 or M = " + std::to_string(M) + " values");
  if (b_zp && b_zp_count != 1 && b_zp_count != N)
    throw invalid_argument("MatMulInteger: b_zero_point must hold 1 or N = " + std::to_string(N) + " values");
  const int batch_rank = out.rank - (a_shape.rank >= 2 ? 1 : 0) - (b_shape.rank >= 2 ? 1 : 0);
  const int64_t nb = out.prod(0, batch_rank);
  if (nb == 0 || M == 0 || N == 0) return;
  // Broadcast strides of the batch dims (in matrices).
  int64_t sa[kMaxRank] = {}, sb[kMaxRank] = {};
  {
    int64_t st = 1;
    for (int i = a_shape.rank - 3, o = batch_rank - 1; i >= 0; --i, --o) sa[o] = a_shape.dims[i] == 1 ? 0 : st, st *= a_shape.dims[i];
    st = 1;
    for (int i = b_shape.rank - 3, o = batch_rank - 1; i >= 0; --i, --o) sb[o] = b_shape.dims[i] == 1 ? 0 : st, st *= b_shape.dims[i];
  }
  std::vector<int16_t> Bw(static_cast<size_t>(K * N));
  int64_t prev_b = -1;
  const int t = threads_for_work(static_cast<double>(M) * N * K, ctx.threads);
  for (int64_t bi = 0; bi < nb; ++bi) {
    int64_t rem = bi, ia = 0, ib = 0;
    for (int d = batch_rank - 1; d >= 0; --d) {
      const int64_t i = rem % out.dims[d];
      rem /= out.dims[d];
      ia += i * sa[d];
      ib += i * sb[d];
    }
    if (ib != prev_b) {
      const void* bm = static_cast<const uint8_t*>(B) + ib * K * N;
      for (int64_t k = 0; k < K; ++k)
        for (int64_t n = 0; n < N; ++n) {
          const int32_t zb = b_zp ? load_q(b_type, b_zp, b_zp_count == 1 ? 0 : n) : 0;
          Bw[static_cast<size_t>(k * N + n)] = static_cast<int16_t>(load_q(b_type, bm, k * N + n) - zb);
        }
      prev_b = ib;
    }
    const void* am = static_cast<const uint8_t*>(A) + ia * M * K;
    int32_t* ym = Y + bi * M * N;
    if (t <= 1) {
      gemm_rows(0, M, N, K, a_type, am, a_zp, a_zp_count, Bw.data(), ym);
    } else {
      ThreadPool::global().parallel_for(M, t, std::max<int64_t>(1, M / (2 * t)), [&](int64_t m0, int64_t m1) {
        gemm_rows(m0, m1, N, K, a_type, am, a_zp, a_zp_count, Bw.data(), ym);
      });
    }
  }
}

}  // namespace sparq
