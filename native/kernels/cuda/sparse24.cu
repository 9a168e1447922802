// 2:4 structured-sparse int8 GEMM on sparse tensor cores (mma.sp m16n8k64, sm_80+).
//
// The sparse operand of mma.sp is A, so the kernel computes y^T = W^T · x^T: A = W^T (rows n, two
// kept values of every four k, plus metadata), B = x (rows m, K contiguous: the "col" operand).
// CTA tile: 128 rows of W^T x 128 rows of x x 128 k, 8 warps of 64 x 32, 4 cp.async stages
// (compressed W 64 B/row + x 128 B/row + 2 KiB of metadata per stage, 104 KiB in all: two CTAs/SM).
// The compressed 16x32-byte A fragment has the same register layout as a dense m16n8k32 one, so
// ldmatrix reads it exactly like the dense kernel does; the metadata is stored pre-arranged in the
// per-lane order (sparse24_pack.cpp), copied to shared memory with the tiles and read one word a lane.
#include <mutex>
#include <random>

#include "cuda_check.h"
#include "epilogue_device.cuh"
#include "gemm_launch.h"
#include "ptx.cuh"
#include "sparq/cuda.h"
#include "sparse24_layout.h"

namespace sparq::cuda {
namespace {

constexpr int kTW = 128, kTX = 128, kBK = 128, kStages = 4;
constexpr int kWRowBytes = kBK / 2;                         // compressed W bytes per row per stage
constexpr int kMetaBytes = (kTW / 16) * (kBK / 64) * 128;   // 8 tiles x 2 slices x 32 lanes x 4 B
constexpr int kStageBytes = kTW * kWRowBytes + kTX * kBK + kMetaBytes;
constexpr int kSmemBytes = kStages * kStageBytes;

struct Params {
  const int8_t* wv;       // [Npad][Kpad/2]
  const uint32_t* meta;   // [Npad/16][Kpad/64][32]
  const int8_t* x; int64_t ldx;
  int M, N, K, Kpad;
  const float* scale_x;
  const float* scale_w;
  const float* bias;
  int act;
  float* y; int64_t ldy;
};

__global__ void __launch_bounds__(256, 2) gemm_2to4_kernel(const Params p) {
  extern __shared__ __align__(128) unsigned char smem_raw[];
  const uint32_t smem = ptx::smem_addr(smem_raw);
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int ww0 = (warp >> 2) * 64;  // warp's W rows within the tile
  const int wx0 = (warp & 3) * 32;   // warp's x rows within the tile
  const int n0 = blockIdx.y * kTW, m0 = blockIdx.x * kTX;
  const int ktiles = p.Kpad / kBK;
  const int64_t wrow_bytes = p.Kpad / 2;
  const int slices = p.Kpad / 64;

  int acc[4][4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int v = 0; v < 4; ++v) acc[i][j][v] = 0;

  auto stage_w = [&](int s) { return smem + s * kStageBytes; };
  auto stage_x = [&](int s) { return smem + s * kStageBytes + kTW * kWRowBytes; };
  auto stage_e = [&](int s) { return smem + s * kStageBytes + kTW * kWRowBytes + kTX * kBK; };

  auto load_stage = [&](int s, int kt) {
    // W: 128 rows x 64 B = 512 chunks (always inside the padded matrix); chunk c of row r at c ^ ((r >> 1) & 3).
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int idx = tid + i * 256, r = idx >> 2, c = idx & 3;
      const int8_t* src = p.wv + static_cast<int64_t>(n0 + r) * wrow_bytes + kt * kWRowBytes + c * 16;
      ptx::cp_async_16(stage_w(s) + r * kWRowBytes + ((c ^ ((r >> 1) & 3)) << 4), src, 16);
    }
    // x: 128 rows x 128 B = 1024 chunks, zero-filled past M and K; chunk c of row r at c ^ (r & 7).
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int idx = tid + i * 256, r = idx >> 3, c = idx & 7;
      const int64_t kb = static_cast<int64_t>(kt) * kBK + c * 16;
      int bytes = 0;
      const int8_t* src = p.x;
      if (m0 + r < p.M && kb < p.K) {
        bytes = p.K - kb >= 16 ? 16 : static_cast<int>(p.K - kb);
        src = p.x + static_cast<int64_t>(m0 + r) * p.ldx + kb;
      }
      ptx::cp_async_16(stage_x(s) + r * kBK + ((c ^ (r & 7)) << 4), src, bytes);
    }
    // Metadata: 8 row tiles x 2 slices x 128 B, contiguous per (tile, slice).
    if (tid < kMetaBytes / 16) {
      const int blk = tid >> 3, c = tid & 7;  // blk = tile * 2 + slice
      const int tile = blk >> 1, sl = blk & 1;
      const uint32_t* src = p.meta + (static_cast<int64_t>(n0 / 16 + tile) * slices + kt * 2 + sl) * 32 + c * 4;
      ptx::cp_async_16(stage_e(s) + blk * 128 + c * 16, src, 16);
    }
  };

#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < ktiles) load_stage(s, s);
    ptx::cp_async_commit();
  }

  const int a_row = lane & 15, a_chunk = lane >> 4;
  const int b_row = lane & 7, b_chunk = lane >> 3;

  for (int kt = 0; kt < ktiles; ++kt) {
    ptx::cp_async_wait<kStages - 2>();
    __syncthreads();
    const int pre = kt + kStages - 1;
    if (pre < ktiles) load_stage(pre % kStages, pre);
    ptx::cp_async_commit();

    const int s = kt % kStages;
    const uint32_t sw = stage_w(s), sx = stage_x(s);
    const uint32_t* se = reinterpret_cast<const uint32_t*>(smem_raw + s * kStageBytes + kTW * kWRowBytes + kTX * kBK);
#pragma unroll
    for (int ks = 0; ks < kBK / 64; ++ks) {
      uint32_t af[4][4], bf[4][4], ef[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int r = ww0 + i * 16 + a_row;
        const int c = ks * 2 + a_chunk;
        ptx::ldmatrix_x4(af[i], sw + r * kWRowBytes + ((c ^ ((r >> 1) & 3)) << 4));
        ef[i] = se[(((ww0 >> 4) + i) * 2 + ks) * 32 + lane];
      }
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int r = wx0 + j * 8 + b_row;
        const int c = ks * 4 + b_chunk;
        ptx::ldmatrix_x4(bf[j], sx + r * kBK + ((c ^ (r & 7)) << 4));
      }
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) ptx::mma_sp_s8_16864(acc[i][j], af[i], bf[j], ef[i]);
    }
  }
  ptx::cp_async_wait<0>();

  // acc[i][j]: rows of W^T (n) = g, g+8; columns (x rows, m) = 2t, 2t+1. y is [M][N].
  const int g = lane >> 2, t = lane & 3;
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int n = n0 + ww0 + i * 16 + g + 8 * h;
      if (n >= p.N) continue;
      const float sw_n = p.scale_w ? p.scale_w[n] : 1.0f;
      const float b_n = p.bias ? p.bias[n] : 0.0f;
#pragma unroll
      for (int j = 0; j < 4; ++j)
#pragma unroll
        for (int v = 0; v < 2; ++v) {
          const int m = m0 + wx0 + j * 8 + 2 * t + v;
          if (m >= p.M) continue;
          const float sx_m = p.scale_x ? p.scale_x[m] : 1.0f;
          float yv = static_cast<float>(acc[i][j][2 * h + v]) * (sx_m * sw_n) + b_n;
          p.y[static_cast<int64_t>(m) * p.ldy + n] = detail::apply_act(yv, p.act);
        }
    }
}

// One warp, one mma.sp: the probe that tells which metadata lane layout the device uses.
__global__ void probe_kernel(const uint32_t* a, const uint32_t* b, const uint32_t* e, int* d) {
  const int lane = threadIdx.x;
  uint32_t af[4], bf[4];
  int acc[4] = {0, 0, 0, 0};
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    af[q] = a[q * 32 + lane];
    bf[q] = b[q * 32 + lane];
  }
  ptx::mma_sp_s8_16864(acc, af, bf, e[lane]);
#pragma unroll
  for (int v = 0; v < 4; ++v) d[v * 32 + lane] = acc[v];
}

int probe_layout() {
  if (!device_info().available) return -1;
  // A 16x64 2:4 tile and a 64x8 B, small random values; the product is checked exactly.
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> val(-9, 9);
  std::vector<int8_t> a(16 * 64, 0), b(64 * 8);
  for (int r = 0; r < 16; ++r)
    for (int q = 0; q < 16; ++q) {
      int i0 = rng() % 4, i1 = rng() % 3;
      if (i1 >= i0) ++i1;
      a[r * 64 + 4 * q + i0] = int8_t(val(rng) | 1);
      a[r * 64 + 4 * q + i1] = int8_t(val(rng) | 1);
    }
  for (auto& v : b) v = int8_t(val(rng));
  std::vector<int> want(16 * 8, 0);
  for (int r = 0; r < 16; ++r)
    for (int n = 0; n < 8; ++n)
      for (int k = 0; k < 64; ++k) want[r * 8 + n] += a[r * 64 + k] * b[k * 8 + n];

  DeviceBuffer da(4 * 32 * 4), db(4 * 32 * 4), de(32 * 4), dd(4 * 32 * 4);
  // B fragment: register q, byte bb of lane 4g+t holds B[k = 16q + 4t + bb][n = g].
  std::vector<uint32_t> bfrag(4 * 32);
  for (int q = 0; q < 4; ++q)
    for (int lane = 0; lane < 32; ++lane) {
      uint32_t w = 0;
      for (int bb = 0; bb < 4; ++bb) w |= uint32_t(uint8_t(b[(16 * q + 4 * (lane & 3) + bb) * 8 + (lane >> 2)])) << (8 * bb);
      bfrag[q * 32 + lane] = w;
    }
  db.upload(bfrag.data(), bfrag.size() * 4);
  // W^T = a (16 rows, K = 64): pack it as the kernel would, then lift the fragments out of the pack.
  for (int layout = 0; layout < kSparse24Layouts; ++layout) {
    Sparse24Host h = pack_2to4_s8(a.data(), 16, 64, layout);
    std::vector<uint32_t> afrag(4 * 32), efrag(32);
    for (int q = 0; q < 4; ++q)
      for (int lane = 0; lane < 32; ++lane) {
        // A fragment: register q, byte bb of lane 4g+t holds compressed A[row g + 8(q&1)][4t + bb + 16(q>>1)].
        const int row = (lane >> 2) + 8 * (q & 1);
        uint32_t w = 0;
        for (int bb = 0; bb < 4; ++bb) {
          const int ccol = 4 * (lane & 3) + bb + 16 * (q >> 1);
          w |= uint32_t(uint8_t(h.values[static_cast<size_t>(row * (h.Kpad / 2) + ccol)])) << (8 * bb);
        }
        afrag[q * 32 + lane] = w;
      }
    for (int lane = 0; lane < 32; ++lane) efrag[lane] = h.meta[static_cast<size_t>(lane)];  // tile 0, slice 0
    da.upload(afrag.data(), afrag.size() * 4);
    de.upload(efrag.data(), efrag.size() * 4);
    probe_kernel<<<1, 32>>>(da.as<uint32_t>(), db.as<uint32_t>(), de.as<uint32_t>(), dd.as<int>());
    SPARQ_CUDA_CHECK_LAUNCH("2:4 probe launch");
    SPARQ_CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<int> d(4 * 32);
    dd.download(d.data(), d.size() * 4);
    bool ok = true;
    for (int lane = 0; lane < 32 && ok; ++lane)
      for (int v = 0; v < 4; ++v) {
        const int r = (lane >> 2) + 8 * (v >> 1), n = 2 * (lane & 3) + (v & 1);
        if (d[v * 32 + lane] != want[r * 8 + n]) { ok = false; break; }
      }
    if (ok) return layout;
  }
  return -1;
}

}  // namespace

int sparse24_meta_layout() {
  static int layout = -2;
  static std::once_flag once;
  std::call_once(once, [] {
    try {
      layout = probe_layout();
    } catch (const std::exception&) {
      layout = -1;
    }
  });
  return layout;
}

Sparse24S8 upload_2to4_s8(const int8_t* wt, int64_t N, int64_t K) {
  require_device();
  const int layout = sparse24_meta_layout();
  if (layout < 0)
    throw Error("ERR_NATIVE", "2:4 sparse tensor cores: none of sparq's metadata layouts matched this device's mma.sp (probe failed)");
  Sparse24Host h = pack_2to4_s8(wt, N, K, layout);
  Sparse24S8 w;
  w.N = h.N;
  w.K = h.K;
  w.Kpad = h.Kpad;
  w.Npad = h.Npad;
  w.values = DeviceBuffer(h.values.size());
  w.values.upload(h.values.data(), h.values.size());
  w.meta = DeviceBuffer(h.meta.size() * 4);
  w.meta.upload(h.meta.data(), h.meta.size() * 4);
  return w;
}

void gemm_2to4_s8(const Gemm2to4Args& p, Stream s) {
  if (!p.w || !p.w->values.data()) throw invalid_argument("2:4 GEMM needs uploaded weights");
  const Sparse24S8& w = *p.w;
  detail::check_dims(p.M, w.N, w.K);
  detail::check_operand(p.x, p.ldx, w.K, p.M, 16, "x (int8 activations)");
  detail::check_operand(p.y, p.ldy, w.N, p.M, 1, "y (output)");
  if (p.M == 0) return;
  require_device();
  static const cudaError_t attr = cudaFuncSetAttribute(gemm_2to4_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes);
  detail::check(attr, "cudaFuncSetAttribute(max dynamic shared memory)");
  Params q{w.values.as<int8_t>(), w.meta.as<uint32_t>(), p.x, p.ldx, int(p.M), int(w.N), int(w.K), int(w.Kpad),
           p.scale_x, p.scale_w, p.bias, int(p.act), p.y, p.ldy};
  dim3 grid(unsigned((p.M + kTX - 1) / kTX), unsigned(w.Npad / kTW));
  if (grid.y > 65535) throw invalid_argument("2:4 GEMM N too large for one launch");
  gemm_2to4_kernel<<<grid, 256, kSmemBytes, s>>>(q);
  SPARQ_CUDA_CHECK_LAUNCH("gemm_2to4_kernel launch");
}

}  // namespace sparq::cuda
