// DeviceWeights: a weight matrix packed for one of the CUDA formats and uploaded once, and the
// host-fp32-in, host-fp32-out matmul the runtime calls. Activations are converted on the device:
// to fp16, or to int8 with a dynamic symmetric per-row scale (absmax / 127, round to nearest even),
// matching the per-column symmetric int8 weights, so the GEMM epilogue dequantizes with
// scale_x[m] · scale_w[n].
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "cuda_check.h"
#include "sparq/cuda.h"

namespace sparq::cuda {
namespace {

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// One CTA per row: absmax, then q = rint(x / scale) into a row of ldq int8 (zero past K).
__global__ void quantize_rows_kernel(const float* x, int K, int8_t* q, int ldq, float* scale) {
  __shared__ float red[32];
  const int m = blockIdx.x;
  const float* row = x + static_cast<int64_t>(m) * K;
  float amax = 0.0f;
  for (int k = threadIdx.x; k < K; k += blockDim.x) amax = fmaxf(amax, fabsf(row[k]));
  for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = amax;
  __syncthreads();
  if (threadIdx.x < 32) {
    amax = threadIdx.x < blockDim.x / 32 ? red[threadIdx.x] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
    if (threadIdx.x == 0) red[0] = amax;
  }
  __syncthreads();
  const float s = red[0] > 0.0f ? red[0] / 127.0f : 1.0f;
  if (threadIdx.x == 0) scale[m] = s;
  int8_t* out = q + static_cast<int64_t>(m) * ldq;
  for (int k = threadIdx.x; k < ldq; k += blockDim.x) {
    int v = 0;
    if (k < K) v = max(-127, min(127, __float2int_rn(row[k] / s)));
    out[k] = static_cast<int8_t>(v);
  }
}

// x[M][K] fp32 -> rows of ldh fp16 (zero past K).
__global__ void to_half_kernel(const float* x, int64_t M, int K, __half* h, int ldh) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= M * ldh) return;
  const int64_t m = i / ldh;
  const int k = static_cast<int>(i % ldh);
  h[i] = __float2half_rn(k < K ? x[m * K + k] : 0.0f);
}

template <class T>
DeviceBuffer upload_vector(const std::vector<T>& v) {
  DeviceBuffer b(std::max<size_t>(v.size() * sizeof(T), 16));
  b.upload(v.data(), v.size() * sizeof(T));
  return b;
}

void grow(DeviceBuffer& b, size_t bytes) {
  if (b.bytes() < bytes) b = DeviceBuffer(bytes);
}
void grow(PinnedBuffer& b, size_t bytes) {
  if (b.bytes() < bytes) b = PinnedBuffer(bytes);
}

}  // namespace

PinnedBuffer::PinnedBuffer(size_t bytes) {
  require_device();
  if (bytes == 0) return;
  SPARQ_CUDA_CHECK(cudaMallocHost(&ptr_, bytes));
  bytes_ = bytes;
}
PinnedBuffer::~PinnedBuffer() {
  if (ptr_) cudaFreeHost(ptr_);
}
PinnedBuffer::PinnedBuffer(PinnedBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) {
  o.ptr_ = nullptr;
  o.bytes_ = 0;
}
PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_) cudaFreeHost(ptr_);
    ptr_ = o.ptr_;
    bytes_ = o.bytes_;
    o.ptr_ = nullptr;
    o.bytes_ = 0;
  }
  return *this;
}

const char* device_format_name(DeviceFormat f) {
  switch (f) {
    case DeviceFormat::f32: return "f32";
    case DeviceFormat::f16: return "f16";
    case DeviceFormat::int8: return "int8";
    case DeviceFormat::sparse_f16: return "sparse";
    case DeviceFormat::block_f16: return "block";
    case DeviceFormat::int8_2to4: return "2:4";
  }
  return "?";
}

DeviceFormat device_format_from_name(const std::string& name) {
  for (DeviceFormat f : {DeviceFormat::f32, DeviceFormat::f16, DeviceFormat::int8, DeviceFormat::sparse_f16,
                         DeviceFormat::block_f16, DeviceFormat::int8_2to4})
    if (name == device_format_name(f)) return f;
  throw invalid_argument("unknown CUDA weight format '" + name + "' (f32, f16, int8, sparse, block, 2:4)");
}

DeviceWeights::DeviceWeights(DeviceFormat format, const float* W, int64_t K, int64_t N, const float* bias)
    : format_(format), K_(K), N_(N) {
  if (K <= 0 || N <= 0 || K > (int64_t(1) << 30) || N > (int64_t(1) << 30))
    throw invalid_argument("CUDA weights need 0 < K, N <= 2^30");
  if (!W) throw invalid_argument("W must not be null");
  require_device();
  // W^T[N][K], the layout every kernel reads.
  std::vector<float> wt(static_cast<size_t>(N * K));
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) wt[n * K + k] = W[k * N + n];
  bias_ = upload_vector(bias ? std::vector<float>(bias, bias + N) : std::vector<float>(static_cast<size_t>(N), 0.0f));
  switch (format) {
    case DeviceFormat::f32:
      ldw_ = K;
      w_ = upload_vector(wt);
      break;
    case DeviceFormat::f16: {
      ldw_ = round_up(K, 8);
      std::vector<uint16_t> h(static_cast<size_t>(N * ldw_), 0);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k) h[n * ldw_ + k] = float_to_half(wt[n * K + k]);
      w_ = upload_vector(h);
      break;
    }
    case DeviceFormat::int8:
    case DeviceFormat::int8_2to4: {
      // Symmetric per-column (per output n) scales: W ≈ scale_w[n] · q.
      ldw_ = round_up(K, 16);
      std::vector<float> sw(static_cast<size_t>(N));
      std::vector<int8_t> q(static_cast<size_t>(N * ldw_), 0), dense(static_cast<size_t>(N * K));
      for (int64_t n = 0; n < N; ++n) {
        float amax = 0.0f;
        for (int64_t k = 0; k < K; ++k) amax = std::max(amax, std::fabs(wt[n * K + k]));
        sw[n] = amax > 0.0f ? amax / 127.0f : 1.0f;
        for (int64_t k = 0; k < K; ++k) {
          const int v = static_cast<int>(std::nearbyint(wt[n * K + k] / sw[n]));
          q[n * ldw_ + k] = dense[n * K + k] = static_cast<int8_t>(std::max(-127, std::min(127, v)));
        }
      }
      scale_w_ = upload_vector(sw);
      if (format == DeviceFormat::int8) w_ = upload_vector(q);
      else w24_ = upload_2to4_s8(dense.data(), N, K);  // throws if W is not 2:4 along K
      break;
    }
    case DeviceFormat::sparse_f16:
    case DeviceFormat::block_f16:
      sparse_ = upload_sparse_f16(wt.data(), N, K, format == DeviceFormat::block_f16 ? 4 : 1);
      break;
  }
}

size_t DeviceWeights::bytes() const {
  return w_.bytes() + scale_w_.bytes() + bias_.bytes() + w24_.bytes() + sparse_.bytes();
}

void DeviceWeights::matmul(const float* x, int64_t M, float* y, Activation act, Stream s, Staging& st, const float* bias) {
  if (M < 0 || M > (int64_t(1) << 30)) throw invalid_argument("M must be in [0, 2^30]");
  if (M == 0) return;
  if (!x || !y) throw invalid_argument("x and y must not be null");
  // x, then (when given) this call's bias at a 256-byte boundary: one pinned buffer, one copy.
  const size_t x_bytes = static_cast<size_t>(M * K_) * 4, out_bytes = static_cast<size_t>(M * N_) * 4;
  const size_t bias_at = static_cast<size_t>(round_up(static_cast<int64_t>(x_bytes), 256));
  const size_t in_bytes = bias ? bias_at + static_cast<size_t>(N_) * 4 : x_bytes;
  grow(st.in, in_bytes);
  grow(st.out, out_bytes);
  grow(st.x, in_bytes);
  grow(st.y, out_bytes);
  std::memcpy(st.in.data(), x, x_bytes);
  if (bias) std::memcpy(static_cast<char*>(st.in.data()) + bias_at, bias, static_cast<size_t>(N_) * 4);
  SPARQ_CUDA_CHECK(cudaMemcpyAsync(st.x.data(), st.in.data(), in_bytes, cudaMemcpyHostToDevice, s));
  const float* dbias = bias ? reinterpret_cast<const float*>(st.x.as<char>() + bias_at) : bias_.as<float>();
  const float* dx = st.x.as<float>();
  float* dy = st.y.as<float>();
  switch (format_) {
    case DeviceFormat::f32: {
      GemmF32Args p;
      p.a = dx; p.lda = K_;
      p.b = w_.as<float>(); p.ldb = ldw_;
      p.M = M; p.N = N_; p.K = K_;
      p.bias = dbias; p.act = act;
      p.c = dy; p.ldc = N_;
      gemm_f32(p, s);
      break;
    }
    case DeviceFormat::f16:
    case DeviceFormat::sparse_f16:
    case DeviceFormat::block_f16: {
      const int64_t ldh = round_up(K_, 8);
      grow(st.xq, static_cast<size_t>(M * ldh) * 2);
      const int64_t total = M * ldh;
      to_half_kernel<<<unsigned((total + 255) / 256), 256, 0, s>>>(dx, M, int(K_), st.xq.as<__half>(), int(ldh));
      SPARQ_CUDA_CHECK_LAUNCH("to_half_kernel launch");
      if (format_ == DeviceFormat::f16) {
        GemmF16Args p;
        p.a = st.xq.as<uint16_t>(); p.lda = ldh;
        p.b = w_.as<uint16_t>(); p.ldb = ldw_;
        p.M = M; p.N = N_; p.K = K_;
        p.bias = dbias; p.act = act;
        p.c = dy; p.ldc = N_;
        gemm_f16(p, s);
      } else {
        SpmmF16Args p;
        p.w = &sparse_;
        p.x = st.xq.as<uint16_t>(); p.ldx = ldh;
        p.M = M;
        p.bias = dbias; p.act = act;
        p.y = dy; p.ldy = N_;
        spmm_f16(p, s);
      }
      break;
    }
    case DeviceFormat::int8:
    case DeviceFormat::int8_2to4: {
      const int64_t ldq = round_up(K_, 16);
      if (M > 2147483647) throw invalid_argument("M too large");
      grow(st.xq, static_cast<size_t>(M * ldq));
      grow(st.scale_x, static_cast<size_t>(M) * 4);
      quantize_rows_kernel<<<unsigned(M), 256, 0, s>>>(dx, int(K_), st.xq.as<int8_t>(), int(ldq), st.scale_x.as<float>());
      SPARQ_CUDA_CHECK_LAUNCH("quantize_rows_kernel launch");
      if (format_ == DeviceFormat::int8) {
        GemmS8Args p;
        p.a = st.xq.as<int8_t>(); p.lda = ldq;
        p.b = w_.as<int8_t>(); p.ldb = ldw_;
        p.M = M; p.N = N_; p.K = K_;
        p.scale_a = st.scale_x.as<float>(); p.scale_b = scale_w_.as<float>();
        p.bias = dbias; p.act = act;
        p.c = dy; p.ldc = N_;
        gemm_s8(p, s);
      } else {
        Gemm2to4Args p;
        p.w = &w24_;
        p.x = st.xq.as<int8_t>(); p.ldx = ldq;
        p.M = M;
        p.scale_x = st.scale_x.as<float>(); p.scale_w = scale_w_.as<float>();
        p.bias = dbias; p.act = act;
        p.y = dy; p.ldy = N_;
        gemm_2to4_s8(p, s);
      }
      break;
    }
  }
  SPARQ_CUDA_CHECK(cudaMemcpyAsync(st.out.data(), dy, out_bytes, cudaMemcpyDeviceToHost, s));
  SPARQ_CUDA_CHECK(cudaStreamSynchronize(s));
  std::memcpy(y, st.out.data(), out_bytes);
}

}  // namespace sparq::cuda
