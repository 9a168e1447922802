// The strided GEMM driver (sgemm.h): K blocks; per block op(B) is packed once into nr-column panels
// (shared by all threads), then a grid of (M chunk x panel range) tasks each packs its op(A) rows
// (alpha folded in) into thread-local scratch and runs the dense format's register tiles over them.
#include "sparq/sgemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "sparq/aligned.h"
#include "sparq/error.h"
#include "sparq/gemm_f32.h"
#include "sparq/sgemm_kernels.h"
#include "sparq/threadpool.h"

namespace sparq {
namespace {

constexpr int64_t kKc = 256;  // K block: a panel slice (kc x nr) stays in L1 across a chunk's row tiles
constexpr int64_t kMc = 144;  // rows per task: the packed A chunk (mc x kc) stays in L2 across panels

int64_t k_block(int64_t K) {
  if (K <= kKc + kKc / 2) return K;
  const int64_t blocks = (K + kKc - 1) / kKc;
  return (K + blocks - 1) / blocks;
}

void check_args(int64_t M, int64_t N, int64_t K, bool transA, bool transB, int64_t lda, int64_t ldb, int64_t ldc) {
  if (M < 0 || N < 0 || K < 0)
    throw invalid_argument("Expected non-negative sizes for sgemm but received M=" + std::to_string(M) +
                           " N=" + std::to_string(N) + " K=" + std::to_string(K));
  const int64_t need_a = transA ? M : K, need_b = transB ? K : N;
  if (lda < need_a || ldb < need_b || ldc < N)
    throw invalid_argument("Expected leading dimensions of at least the row length for sgemm but received lda=" +
                           std::to_string(lda) + " ldb=" + std::to_string(ldb) + " ldc=" + std::to_string(ldc));
}

// C = beta·C (then the epilogue) for the degenerate K == 0 / alpha == 0 cases.
void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc, const Epilogue* ep) {
  for (int64_t m = 0; m < M; ++m) {
    float* row = C + m * ldc;
    if (beta == 0.0f)
      std::fill(row, row + N, 0.0f);
    else if (beta != 1.0f)
      for (int64_t n = 0; n < N; ++n) row[n] *= beta;
    if (ep) apply_epilogue_row(row, 0, N, *ep);
  }
}

// Panels of op(B)[k0 .. k0+kb) x [p*nr .. p*nr+nr), zero-padded past N: panel p at dst + p*kb*nr.
void pack_b_panels(bool transB, const float* B, int64_t ldb, int64_t N, int64_t k0, int64_t kb, int64_t nr, int64_t p0,
                   int64_t p1, float* dst) {
  for (int64_t p = p0; p < p1; ++p) {
    const int64_t n0 = p * nr, cols = std::min(nr, N - n0);
    float* panel = dst + p * kb * nr;
    if (!transB) {
      const float* src = B + k0 * ldb + n0;
      if (cols == nr && nr == 32) {
        // Fixed-size copies inline to vector moves (a memcpy call per 128 bytes costs more than the copy).
        for (int64_t k = 0; k < kb; ++k) std::memcpy(panel + k * 32, src + k * ldb, 32 * sizeof(float));
      } else if (cols == nr && nr == 16) {
        for (int64_t k = 0; k < kb; ++k) std::memcpy(panel + k * 16, src + k * ldb, 16 * sizeof(float));
      } else {
        for (int64_t k = 0; k < kb; ++k) {
          float* d = panel + k * nr;
          for (int64_t j = 0; j < cols; ++j) d[j] = src[k * ldb + j];
          for (int64_t j = cols; j < nr; ++j) d[j] = 0.0f;
        }
      }
    } else {
      for (int64_t j = 0; j < cols; ++j) {
        const float* src = B + (n0 + j) * ldb + k0;
        for (int64_t k = 0; k < kb; ++k) panel[k * nr + j] = src[k];
      }
      if (cols < nr)
        for (int64_t k = 0; k < kb; ++k) std::fill(panel + k * nr + cols, panel + (k + 1) * nr, 0.0f);
    }
  }
}

// Row tile [m0, m0+rows) of alpha·op(A) for k in [k0, k0+kb), k-major with `rows` floats per k.
void pack_a_tile(const GemmF32Kernels& kern, bool transA, const float* A, int64_t lda, int64_t m0, int64_t rows,
                 int64_t k0, int64_t kb, float alpha, float* dst) {
  if (!transA) {
    kern.pack_a(A + m0 * lda + k0, lda, static_cast<int>(rows), kb, dst, rows);
    if (alpha != 1.0f)
      for (int64_t i = 0; i < rows * kb; ++i) dst[i] *= alpha;
  } else {
    for (int64_t k = 0; k < kb; ++k) {
      const float* src = A + (k0 + k) * lda + m0;
      for (int64_t i = 0; i < rows; ++i) dst[k * rows + i] = alpha * src[i];
    }
  }
}

}  // namespace

void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc, int threads, const Epilogue* ep, Isa isa) {
  check_args(M, N, K, transA, transB, lda, ldb, ldc);
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == 0.0f) return scale_c(M, N, beta, C, ldc, ep);
  const GemmF32Kernels* kern = gemm_f32_kernels(isa);
  // With few rows, packing B costs as much as the multiply: a non-transposed B is then read in place
  // by a direct tile. Not for larger M: B rows a multiple of 4 KiB apart alias in L1, so a K block
  // of B read in place thrashes where the packed panel stays resident (measured 0.5x at 128x3072x768,
  // 1.3x at M = 32). SPARQ_SGEMM_PACK_B=1 always packs (for benchmarks).
  const SgemmDirectKernels* direct = nullptr;
#if defined(__x86_64__) || defined(__i386__)
  static const bool force_pack = [] {
    const char* env = std::getenv("SPARQ_SGEMM_PACK_B");
    return env && env[0] == '1';
  }();
  if (!transB && M <= 48 && isa == Isa::avx512 && !force_pack) direct = &kSgemmDirectAvx512;
#endif
  const int64_t mr = direct ? direct->mr : kern->mr, nr = direct ? direct->nr : kern->nr;
  const int t = threads_for_work(static_cast<double>(M) * N * K, threads);
  if (beta != 0.0f && beta != 1.0f) scale_c(M, N, beta, C, ldc, nullptr);
  const bool accumulate_first = beta != 0.0f;

  const int64_t kc = k_block(K);
  const int64_t panels = (N + nr - 1) / nr;
  // Row chunks: whole tiles of mr, small enough that every thread gets work.
  int64_t mc = std::min<int64_t>((kMc / mr) * mr, (M + mr - 1) / mr * mr);
  const int64_t mchunks = (M + mc - 1) / mc;
  const int64_t nchunks = std::min<int64_t>(panels, std::max<int64_t>(1, (t + mchunks - 1) / mchunks));
  const int64_t panels_per_chunk = (panels + nchunks - 1) / nchunks;

  thread_local AlignedBuffer<float> b_scratch;
  float* b_pack = direct ? nullptr : b_scratch.reserve(static_cast<size_t>(panels * kc * nr));

  for (int64_t k0 = 0; k0 < K; k0 += kc) {
    const int64_t kb = std::min(kc, K - k0);
    const bool accumulate = k0 > 0 || accumulate_first;
    const Epilogue* block_ep = k0 + kb >= K ? ep : nullptr;
    const int64_t pgrain = std::max<int64_t>(1, (panels + t - 1) / t);
    if (!direct)
      ThreadPool::global().parallel_for(panels, t, pgrain, [&](int64_t p0, int64_t p1) {
        pack_b_panels(transB, B, ldb, N, k0, kb, nr, p0, p1, b_pack);
      });
    ThreadPool::global().parallel_for(mchunks * nchunks, t, 1, [&](int64_t t0, int64_t t1) {
      thread_local AlignedBuffer<float> a_scratch;
      float* a_pack = a_scratch.reserve(static_cast<size_t>(mc * kb));
      int64_t packed_chunk = -1;
      for (int64_t task = t0; task < t1; ++task) {
        const int64_t mi = task / nchunks, ni = task % nchunks;
        const int64_t m_begin = mi * mc, m_end = std::min(M, m_begin + mc);
        if (packed_chunk != mi) {
          for (int64_t m0 = m_begin; m0 < m_end; m0 += mr)
            pack_a_tile(*kern, transA, A, lda, m0, std::min(mr, m_end - m0), k0, kb, alpha, a_pack + (m0 - m_begin) * kb);
          packed_chunk = mi;
        }
        const int64_t p_begin = ni * panels_per_chunk, p_end = std::min(panels, p_begin + panels_per_chunk);
        for (int64_t p = p_begin; p < p_end; ++p) {
          const int64_t n0 = p * nr;
          const int cols = static_cast<int>(std::min(nr, N - n0));
          const float* b = direct ? B + k0 * ldb + n0 : b_pack + p * kb * nr;
          for (int64_t m0 = m_begin; m0 < m_end; m0 += mr) {
            const int rows = static_cast<int>(std::min(mr, m_end - m0));
            if (direct)
              direct->tile(rows, cols, kb, a_pack + (m0 - m_begin) * kb, b, ldb, C + m0 * ldc + n0, ldc, accumulate,
                           block_ep, n0);
            else
              kern->tile(rows, cols, kb, a_pack + (m0 - m_begin) * kb, b, C + m0 * ldc + n0, ldc, accumulate, block_ep,
                         n0);
          }
        }
      }
    });
  }
}

void sgemm_strided_batched(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                           int64_t lda, int64_t strideA, const float* B, int64_t ldb, int64_t strideB, float beta,
                           float* C, int64_t ldc, int64_t strideC, int64_t batch, int threads, const Epilogue* ep,
                           Isa isa) {
  check_args(M, N, K, transA, transB, lda, ldb, ldc);
  if (batch < 0 || strideA < 0 || strideB < 0 || strideC < 0 || (batch > 1 && strideC == 0))
    throw invalid_argument("Expected a non-negative batch and strides (strideC > 0 when batch > 1) for sgemm_strided_batched");
  if (batch == 0) return;
  if (batch == 1)
    return sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, threads, ep, isa);
  const int pool = ThreadPool::global().size();
  const int t = threads_for_work(static_cast<double>(batch) * M * N * K, threads <= 0 ? pool : threads);
  if (batch >= t) {
    ThreadPool::global().parallel_for(batch, t, std::max<int64_t>(1, batch / t), [&](int64_t b0, int64_t b1) {
      for (int64_t i = b0; i < b1; ++i)
        sgemm(transA, transB, M, N, K, alpha, A + i * strideA, lda, B + i * strideB, ldb, beta, C + i * strideC, ldc,
              1, ep, isa);
    });
    return;
  }
  for (int64_t i = 0; i < batch; ++i)
    sgemm(transA, transB, M, N, K, alpha, A + i * strideA, lda, B + i * strideB, ldb, beta, C + i * strideC, ldc, t,
          ep, isa);
}

Shape matmul_output_shape(const Shape& a, const Shape& b) {
  if (a.rank == 0 || b.rank == 0)
    throw invalid_argument("Expected operands of rank >= 1 for MatMul but received " + a.str() + " and " + b.str());
  const int64_t Ka = a.dims[a.rank - 1], Kb = b.rank == 1 ? b.dims[0] : b.dims[b.rank - 2];
  if (Ka != Kb)
    throw Error("ERR_SHAPE_MISMATCH", "MatMul inner dimensions differ: " + a.str() + " x " + b.str());
  Shape ab, bb;
  if (a.rank > 2) ab = Shape::of(a.dims, a.rank - 2);
  if (b.rank > 2) bb = Shape::of(b.dims, b.rank - 2);
  Shape out;
  try {
    out = broadcast_shapes(ab, bb);
  } catch (const Error&) {
    throw Error("ERR_SHAPE_MISMATCH", "MatMul batch dimensions do not broadcast: " + a.str() + " x " + b.str());
  }
  if (out.rank + 2 > kMaxRank) throw invalid_argument("MatMul result rank exceeds 8");
  if (a.rank >= 2) out.dims[out.rank++] = a.dims[a.rank - 2];
  if (b.rank >= 2) out.dims[out.rank++] = b.dims[b.rank - 1];
  return out;
}

void matmul_f32(const float* A, const Shape& a, const float* B, const Shape& b, float* C, int threads,
                const Epilogue* ep, Isa isa) {
  const Shape out = matmul_output_shape(a, b);
  const int64_t K = a.dims[a.rank - 1];
  const int64_t M = a.rank >= 2 ? a.dims[a.rank - 2] : 1;
  const int64_t N = b.rank >= 2 ? b.dims[b.rank - 1] : 1;
  const int batch_rank = out.rank - (a.rank >= 2 ? 1 : 0) - (b.rank >= 2 ? 1 : 0);
  const Shape batch = Shape::of(out.dims, batch_rank);
  const int64_t nb = batch.numel();
  if (nb == 0 || M == 0 || N == 0) return;
  const int64_t a_mat = M * K, b_mat = K * N, c_mat = M * N;
  // B shared by the whole batch: fold the batch into M (one big GEMM over contiguous A rows).
  if (b.rank <= 2) return sgemm(false, false, nb * M, N, K, 1.0f, A, std::max<int64_t>(K, 1), B, N, 0.0f, C, N, threads, ep, isa);

  // Per batch element: offsets of A and B under broadcasting (a stride of 0 where a dim is 1 or missing).
  int64_t sa[kMaxRank] = {}, sb[kMaxRank] = {};
  {
    int64_t st = a_mat;
    for (int i = a.rank - 3, o = batch_rank - 1; i >= 0; --i, --o) {
      sa[o] = a.dims[i] == 1 ? 0 : st;
      st *= a.dims[i];
    }
    st = b_mat;
    for (int i = b.rank - 3, o = batch_rank - 1; i >= 0; --i, --o) {
      sb[o] = b.dims[i] == 1 ? 0 : st;
      st *= b.dims[i];
    }
  }
  std::vector<int64_t> offsets(static_cast<size_t>(2 * nb));
  int64_t idx[kMaxRank] = {};
  for (int64_t i = 0; i < nb; ++i) {
    int64_t oa = 0, ob = 0;
    for (int d = 0; d < batch_rank; ++d) {
      oa += idx[d] * sa[d];
      ob += idx[d] * sb[d];
    }
    offsets[2 * i] = oa;
    offsets[2 * i + 1] = ob;
    for (int d = batch_rank - 1; d >= 0; --d) {
      if (++idx[d] < batch.dims[d]) break;
      idx[d] = 0;
    }
  }
  const int64_t lda = std::max<int64_t>(K, 1), ldb = N;
  const int pool = ThreadPool::global().size();
  const int t = threads_for_work(static_cast<double>(nb) * M * N * K, threads <= 0 ? pool : threads);
  auto one = [&](int64_t i, int th) {
    sgemm(false, false, M, N, K, 1.0f, A + offsets[2 * i], lda, B + offsets[2 * i + 1], ldb, 0.0f, C + i * c_mat, N,
          th, ep, isa);
  };
  if (nb >= t) {
    ThreadPool::global().parallel_for(nb, t, std::max<int64_t>(1, nb / t), [&](int64_t b0, int64_t b1) {
      for (int64_t i = b0; i < b1; ++i) one(i, 1);
    });
  } else {
    for (int64_t i = 0; i < nb; ++i) one(i, t);
  }
}

}  // namespace sparq
