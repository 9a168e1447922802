// Unstructured / 1x4-block sparse fp16 SpMM on CUDA cores: y[M][N] = x[M][K] · W (W^T in CSR).
//
// Why CUDA cores: at 90% sparsity and small M (decode) the product is memory-bound, and what matters
// is reading 10% of the weights instead of all of them; tensor cores only pay once M is large enough
// to be compute-bound, where dense tensor-core GEMM wins anyway (measured by bench_cuda).
// Sputnik's structure: one warp per output row of W^T (rows visited longest first), lanes stride over
// the row's nonzero blocks, each lane accumulating MT outputs (MT rows of x) in fp32; x is first
// transposed to x^T[K][Mpad] so one nonzero reads its MT x values as 16-byte vectors. The warp then
// reduces its MT partial sums with a halving butterfly (16 shuffles for MT = 16, not 16 x 5).
#include <cuda_fp16.h>

#include "cuda_check.h"
#include "epilogue_device.cuh"
#include "gemm_launch.h"
#include "sparq/cuda.h"

namespace sparq::cuda {
namespace {

constexpr int kWarpsPerCta = 8;

// x[M][K] (ldx) -> xt[kpad][mpad], zero for m >= M and k >= K (a 1x4 block may reach past K).
// 32x32 tiles through shared memory.
__global__ void transpose_kernel(const __half* x, int64_t ldx, int M, int K, int kpad, __half* xt, int mpad) {
  __shared__ __half tile[32][33];
  const int k0 = blockIdx.x * 32, m0 = blockIdx.y * 32;
  for (int i = threadIdx.y; i < 32; i += 8) {
    const int m = m0 + i, k = k0 + threadIdx.x;
    tile[i][threadIdx.x] = (m < M && k < K) ? x[static_cast<int64_t>(m) * ldx + k] : __float2half(0.0f);
  }
  __syncthreads();
  for (int i = threadIdx.y; i < 32; i += 8) {
    const int k = k0 + i, m = m0 + threadIdx.x;
    if (k < kpad && m < mpad) xt[static_cast<int64_t>(k) * mpad + m] = tile[threadIdx.x][i];
  }
}

struct SpmmParams {
  const int32_t* row_ptr;
  const uint16_t* cols;
  const __half* values;
  const int32_t* order;
  const __half* xt; int mpad;
  int M, N;
  const float* bias;
  int act;
  float* y; int64_t ldy;
};

// Loads x^T[k][m0 .. m0+MT) as fp32.
template <int MT>
__device__ __forceinline__ void load_x(const __half* p, float (&xv)[MT]) {
  if constexpr (MT == 1) {
    xv[0] = __half2float(__ldg(p));
  } else {
    static_assert(MT % 8 == 0, "MT must be 1 or a multiple of 8");
#pragma unroll
    for (int c = 0; c < MT / 8; ++c) {
      const uint4 u = __ldg(reinterpret_cast<const uint4*>(p + 8 * c));
      const __half2* h2 = reinterpret_cast<const __half2*>(&u);
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        const float2 f = __half22float2(h2[q]);
        xv[8 * c + 2 * q] = f.x;
        xv[8 * c + 2 * q + 1] = f.y;
      }
    }
  }
}

template <int MT, int BLOCK>
__global__ void __launch_bounds__(kWarpsPerCta * 32) spmm_kernel(const SpmmParams p) {
  const int lane = threadIdx.x & 31;
  const int slot = blockIdx.x * kWarpsPerCta + (threadIdx.x >> 5);
  if (slot >= p.N) return;
  const int n = p.order[slot];
  const int m0 = blockIdx.y * MT;
  const int begin = p.row_ptr[n], end = p.row_ptr[n + 1];
  const __half* xt = p.xt + m0;

  float acc[MT];
#pragma unroll
  for (int i = 0; i < MT; ++i) acc[i] = 0.0f;

  // Batches of kBatch nonzeros per lane: every index and value load of a batch is issued before the
  // first x load that depends on one, so each lane keeps several independent loads in flight.
  constexpr int kBatch = 4;
  for (int e0 = begin + lane; e0 < end; e0 += 32 * kBatch) {
    int k0[kBatch];
    float w[kBatch][BLOCK];
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      const int e = e0 + 32 * u;
      const bool live = e < end;
      k0[u] = live ? static_cast<int>(__ldg(p.cols + e)) * BLOCK : 0;
      if constexpr (BLOCK == 4) {
        uint2 v = make_uint2(0u, 0u);
        if (live) v = __ldg(reinterpret_cast<const uint2*>(p.values + static_cast<int64_t>(e) * 4));
        const float2 a = __half22float2(*reinterpret_cast<const __half2*>(&v.x));
        const float2 b = __half22float2(*reinterpret_cast<const __half2*>(&v.y));
        w[u][0] = a.x; w[u][1] = a.y; w[u][2] = b.x; w[u][3] = b.y;
      } else {
        w[u][0] = live ? __half2float(__ldg(p.values + e)) : 0.0f;
      }
    }
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      if (e0 + 32 * u >= end) break;  // only the row's last batch is partial
#pragma unroll
      for (int b = 0; b < BLOCK; ++b) {
        float xv[MT];
        load_x<MT>(xt + static_cast<int64_t>(k0[u] + b) * p.mpad, xv);
#pragma unroll
        for (int i = 0; i < MT; ++i) acc[i] = fmaf(w[u][b], xv[i], acc[i]);
      }
    }
  }

  // Halving butterfly: after the step with offset o, each lane keeps half of its values (the upper
  // half if its bit o is set) plus its partner's matching half. With MT = 16, lane l ends with the
  // full sum for m = l >> 1 (lanes l and l^1 agree).
  int m_of_lane = 0;
  if constexpr (MT == 1) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) acc[0] += __shfl_xor_sync(0xffffffffu, acc[0], o);
  } else {
    static_assert(MT == 16, "the reduction is written for MT = 16");
#pragma unroll
    for (int step = 0; step < 4; ++step) {
      const int o = 16 >> step, half = 8 >> step;
      const bool upper = lane & o;
#pragma unroll
      for (int i = 0; i < half; ++i) {
        const float send = upper ? acc[i] : acc[i + half];
        const float keep = upper ? acc[i + half] : acc[i];
        acc[i] = keep + __shfl_xor_sync(0xffffffffu, send, o);
      }
    }
    acc[0] += __shfl_xor_sync(0xffffffffu, acc[0], 1);
    m_of_lane = lane >> 1;
  }
  const bool writer = MT == 1 ? lane == 0 : (lane & 1) == 0;
  const int m = m0 + m_of_lane;
  if (writer && m < p.M) {
    float v = acc[0];
    if (p.bias) v += p.bias[n];
    p.y[static_cast<int64_t>(m) * p.ldy + n] = detail::apply_act(v, p.act);
  }
}

template <int MT, int BLOCK>
void launch_spmm(const SpmmParams& q, int mtiles, cudaStream_t s) {
  dim3 grid(unsigned((q.N + kWarpsPerCta - 1) / kWarpsPerCta), unsigned(mtiles));
  spmm_kernel<MT, BLOCK><<<grid, kWarpsPerCta * 32, 0, s>>>(q);
  SPARQ_CUDA_CHECK_LAUNCH("spmm_kernel launch");
}

}  // namespace

SparseF16 upload_sparse_f16(const float* wt, int64_t N, int64_t K, int block) {
  require_device();
  SparseF16Host h = pack_sparse_f16(wt, N, K, block);
  SparseF16 w;
  w.N = N;
  w.K = K;
  w.block = block;
  w.nnz_blocks = h.nnz_blocks;
  w.row_ptr = DeviceBuffer(h.row_ptr.size() * 4);
  w.row_ptr.upload(h.row_ptr.data(), h.row_ptr.size() * 4);
  w.order = DeviceBuffer(h.order.size() * 4);
  w.order.upload(h.order.data(), h.order.size() * 4);
  // Never-empty buffers so the kernel's pointers are valid even for an all-zero matrix.
  w.cols = DeviceBuffer(std::max<size_t>(h.cols.size() * 2, 16));
  w.cols.upload(h.cols.data(), h.cols.size() * 2);
  w.values = DeviceBuffer(std::max<size_t>(h.values.size() * 2, 16));
  w.values.upload(h.values.data(), h.values.size() * 2);
  return w;
}

void spmm_f16(const SpmmF16Args& p, Stream s) {
  if (!p.w || !p.w->row_ptr.data()) throw invalid_argument("sparse GEMM needs uploaded weights");
  const SparseF16& w = *p.w;
  detail::check_dims(p.M, w.N, w.K);
  detail::check_operand(p.x, p.ldx, w.K, p.M, 1, "x (fp16 activations)");
  detail::check_operand(p.y, p.ldy, w.N, p.M, 1, "y (output)");
  if (p.M == 0) return;
  require_device();
  const int MT = p.M == 1 ? 1 : 16;
  const int mtiles = static_cast<int>((p.M + MT - 1) / MT);
  const int mpad = mtiles * MT;
  if (mtiles > 65535) throw invalid_argument("sparse GEMM M too large for one launch");
  const int64_t kpad = (w.K + w.block - 1) / w.block * w.block;
  // A single row whose blocks stay inside K is its own transpose: no copy, no extra launch.
  const bool direct = p.M == 1 && kpad == w.K;
  // Otherwise x^T goes to stream-ordered scratch, allocated and freed in stream order (no synchronisation).
  void* xt = nullptr;
  if (!direct) SPARQ_CUDA_CHECK(cudaMallocAsync(&xt, static_cast<size_t>(kpad) * mpad * 2, s));
  try {
    if (!direct) {
      dim3 tgrid(unsigned((kpad + 31) / 32), unsigned((mpad + 31) / 32));
      transpose_kernel<<<tgrid, dim3(32, 8), 0, s>>>(reinterpret_cast<const __half*>(p.x), p.ldx, int(p.M), int(w.K),
                                                      int(kpad), static_cast<__half*>(xt), mpad);
      SPARQ_CUDA_CHECK_LAUNCH("transpose_kernel launch");
    }
    const __half* xsrc = direct ? reinterpret_cast<const __half*>(p.x) : static_cast<const __half*>(xt);
    SpmmParams q{w.row_ptr.as<int32_t>(), w.cols.as<uint16_t>(), w.values.as<__half>(), w.order.as<int32_t>(),
                 xsrc, mpad, int(p.M), int(w.N), p.bias, int(p.act), p.y, p.ldy};
    if (MT == 1) {
      if (w.block == 4) launch_spmm<1, 4>(q, mtiles, s);
      else launch_spmm<1, 1>(q, mtiles, s);
    } else {
      if (w.block == 4) launch_spmm<16, 4>(q, mtiles, s);
      else launch_spmm<16, 1>(q, mtiles, s);
    }
  } catch (...) {
    if (xt) cudaFreeAsync(xt, s);
    throw;
  }
  if (xt) SPARQ_CUDA_CHECK(cudaFreeAsync(xt, s));
}

}  // namespace sparq::cuda
