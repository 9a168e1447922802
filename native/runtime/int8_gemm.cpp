// int8 GEMM runtime (sparq/int8_gemm.h): kernel selection, weight quantization and packing, and the
// blocked multithreaded driver around the per-ISA tiles.
#include "sparq/int8_gemm.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "sparq/error.h"
#include "sparq/gemm_f32.h"
#include "sparq/threadpool.h"

namespace sparq {

const Int8GemmKernels* int8_gemm_kernels(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  const CpuFeatures& f = cpu_features();
  if (isa == Isa::avx512 && f.avx512vnni) return &kInt8GemmAvx512Vnni;
  if (isa == Isa::avx512 || isa == Isa::avx2) return f.avxvnni ? &kInt8GemmAvxVnni : &kInt8GemmAvx2;
#else
  (void)isa;
#endif
  return &kInt8GemmScalar;
}

std::vector<const Int8GemmKernels*> int8_gemm_runnable_kernels() {
  std::vector<const Int8GemmKernels*> out{&kInt8GemmScalar};
#if defined(__x86_64__) || defined(__i386__)
  const CpuFeatures& f = cpu_features();
  if (isa_supported(Isa::avx2)) out.push_back(&kInt8GemmAvx2);
  if (isa_supported(Isa::avx2) && f.avxvnni) out.push_back(&kInt8GemmAvxVnni);
  if (isa_supported(Isa::avx512) && f.avx512vnni) out.push_back(&kInt8GemmAvx512Vnni);
#endif
  return out;
}

int8_t Int8PackedB::at(int64_t k, int64_t n) const {
  const int64_t p = n / kInt8PanelCols;
  return data[static_cast<size_t>((p / group) * kq * group * 64 + (k / 4) * group * 64 + (p % group) * 64 +
                                  (n % kInt8PanelCols) * 4 + k % 4)];
}

int64_t int8_column_scales(std::vector<float>& maxabs, std::vector<char>& finite, bool per_channel, int weight_max,
                           float* scale) {
  if (!per_channel && !maxabs.empty()) {
    const float all = *std::max_element(maxabs.begin(), maxabs.end());
    const bool all_finite = std::all_of(finite.begin(), finite.end(), [](char c) { return c != 0; });
    std::fill(maxabs.begin(), maxabs.end(), all);
    std::fill(finite.begin(), finite.end(), static_cast<char>(all_finite));
  }
  int64_t non_finite = 0;
  for (size_t n = 0; n < maxabs.size(); ++n) {
    float s = maxabs[n] / static_cast<float>(weight_max);
    if (!finite[n]) {
      s = std::nanf("");
      ++non_finite;
    } else if (!(s > 0.0f)) {
      s = 1.0f;  // all-zero column (or an underflowing range): codes 0, exact zero outputs
    }
    scale[n] = s;
  }
  return non_finite;
}

void pack_int8_weights(const float* W, int64_t K, int64_t N, bool per_channel, int group, int weight_max,
                       Int8PackedB& out) {
  if (K < 1 || N < 1 || group < 1 || weight_max < 1 || weight_max > 127) throw invalid_argument("pack_int8_weights: bad shape or parameters");
  if (K > kInt8MaxK)
    throw invalid_argument("Expected an integer <= " + std::to_string(kInt8MaxK) +
                           " (exact s32 accumulation in the int8 format) for K but received " + std::to_string(K));
  out.K = K;
  out.N = N;
  out.kq = (K + 3) / 4;
  out.group = group;
  out.weight_max = weight_max;
  out.per_channel = per_channel;
  const int64_t panels = (N + kInt8PanelCols - 1) / kInt8PanelCols;
  out.groups = (panels + group - 1) / group;
  const int64_t cols = out.groups * group * kInt8PanelCols;
  out.data.resize(static_cast<size_t>(out.groups * out.kq * group * 64));
  out.colsum.resize(static_cast<size_t>(cols));
  out.scale.resize(static_cast<size_t>(cols));

  // Column ranges: max |w| and finiteness.
  std::vector<float> maxabs(static_cast<size_t>(N), 0.0f);
  std::vector<char> finite(static_cast<size_t>(N), 1);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) {
      const float w = W[k * N + n];
      if (!std::isfinite(w)) finite[n] = 0;
      else maxabs[n] = std::max(maxabs[n], std::fabs(w));
    }
  out.non_finite_columns = int8_column_scales(maxabs, finite, per_channel, weight_max, out.scale.data());

  double max_err = 0, sum_err2 = 0, sum_w2 = 0;
  for (int64_t k = 0; k < K; ++k) {
    for (int64_t n = 0; n < N; ++n) {
      const float s = out.scale[n];
      if (std::isnan(s)) continue;  // codes stay 0
      const float w = W[k * N + n];
      const int8_t code = int8_code(w, s, weight_max);
      const int64_t p = n / kInt8PanelCols;
      out.data[static_cast<size_t>((p / group) * out.kq * group * 64 + (k / 4) * group * 64 + (p % group) * 64 +
                                   (n % kInt8PanelCols) * 4 + k % 4)] = code;
      out.colsum[n] += code;
      const double err = static_cast<double>(w) - static_cast<double>(s) * code;
      max_err = std::max(max_err, std::fabs(err));
      sum_err2 += err * err;
      sum_w2 += static_cast<double>(w) * w;
    }
  }
  out.max_abs_error = max_err;
  out.rel_rms_error = sum_w2 > 0 ? std::sqrt(sum_err2 / sum_w2) : 0.0;
}

int64_t int8_a_stride(int64_t K) {
  int64_t s = (K + 3) / 4 * 4;
  if (s >= 512 && s % 512 == 0) s += 64;
  return s;
}

namespace {

// One M tile of A, `rows` rows of kq quads (row stride lda bytes, a multiple of 4), packed quad-major:
// quad q of row i at (q·rows + i)·4. Quads are 32-bit elements, so the fp32 kernels' in-register
// transpose moves them bit for bit.
void pack_a_tile(const uint8_t* a, int64_t lda, int64_t rows, int64_t kq, uint8_t* out) {
  gemm_f32_kernels(active_isa())->pack_a(reinterpret_cast<const float*>(a), lda / 4, static_cast<int>(rows), kq, reinterpret_cast<float*>(out), rows);
}

// K block in quads. Measured on the 2-core Zen 5 VM (M = 128, K = N = 4096): a full-K tile (the group's
// B slice, 128 KiB, reused from L2 across the M tiles; A tiles streaming from L2) ran at ~86% of the
// vpdpbusd peak, blocks of 1024 at ~78%: the partial sums parked in y (M·N·4 bytes per block) evict
// L2. So K is blocked only when it is long enough for B slices to outgrow L2 (K > 6144), or when
// asked (kc_override, the tests; SPARQ_INT8_KC for tuning).
int64_t choose_kcq(int64_t kq, int64_t kc_override) {
  static const int64_t forced = [] {
    const char* env = std::getenv("SPARQ_INT8_KC");
    return env ? std::atoll(env) : 0LL;
  }();
  const int64_t kc = kc_override > 0 ? kc_override : forced;
  const int64_t target = kc > 0 ? std::max<int64_t>(1, kc / 4) : 1024;
  if (kq <= target + (kc > 0 ? 0 : target / 2)) return kq;
  const int64_t blocks = (kq + target - 1) / target;
  return (kq + blocks - 1) / blocks;
}

}  // namespace

void int8_gemm(const Int8GemmKernels& kernels, const Int8PackedB& b, const Int8QuantizedA& a, int64_t M, float* y,
               const Epilogue& ep, int threads, int32_t* acc, int64_t kc_override) {
  if (M <= 0) return;
  if (&kernels != &kInt8GemmScalar && b.group * kInt8PanelCols != kernels.nr)
    throw invalid_argument("int8_gemm: weights were packed for another kernel");
  if (a.lda < 4 * b.kq) throw invalid_argument("int8_gemm: A rows are shorter than the packed K");
  if (!y && !acc) throw invalid_argument("int8_gemm: no output");
  const int64_t N = b.N, nr = b.group * kInt8PanelCols, mr = kernels.mr;
  const int64_t m_tiles = (M + mr - 1) / mr;
  // vpdpbusd does 4x the multiply-adds of an fp32 FMA per instruction: weigh the work accordingly.
  const int t = threads_for_work(static_cast<double>(M) * b.K * N / 4.0, threads);
  // (One M tile reuses nothing across K blocks: no blocking then.)
  const int64_t kcq = m_tiles == 1 && kc_override <= 0 ? b.kq : choose_kcq(b.kq, kc_override);
  // M block: the A rows of a block (x one K block) stay in L2 while the groups of B stream past, one
  // group's slice at a time, so B is read from memory once per block. Sized to 3/4 of L2 less that
  // slice: at M = 128, K = N = 4096 a block of all 11 tiles (528 KiB) ran at ~90% of the vpdpbusd
  // peak on Zen 5 (1 MiB L2), blocks of 5 tiles (the old 256 KiB budget) at ~83%.
  const int64_t a_tile_bytes = kcq * 4 * mr, b_slice_bytes = kcq * 4 * nr;
  const int64_t a_budget = std::max<int64_t>(a_tile_bytes, l2_cache_bytes() * 3 / 4 - b_slice_bytes);
  const int64_t most_tiles = std::max<int64_t>(1, a_budget / a_tile_bytes);
  // Balanced blocks: no short last block that streams all of B for a tile or two.
  const int64_t blocks = (m_tiles + most_tiles - 1) / most_tiles;
  const int64_t block_tiles = (m_tiles + blocks - 1) / blocks;
  // A packed per M tile when the kernel wants it at this K (Int8GemmKernels::pack_a_from): tile t at
  // t·kq·mr·4, quad q of row i at q·rows·4 + i·4. One 4-byte copy per quad.
  const uint8_t* pa = nullptr;
  const int64_t tile_bytes = b.kq * mr * 4;
  if (kernels.pack_a_from > 0 && b.K >= kernels.pack_a_from) {
    thread_local AlignedBuffer<uint8_t> a_buffer;
    uint8_t* dst = a_buffer.reserve(static_cast<size_t>(m_tiles * tile_bytes));
    ThreadPool::global().parallel_for(m_tiles, M * b.kq >= (1 << 16) ? t : 1, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t mt = t0; mt < t1; ++mt) {
        const int64_t m0 = mt * mr;
        pack_a_tile(a.data + m0 * a.lda, a.lda, std::min(mr, M - m0), b.kq, dst + mt * tile_bytes);
      }
    });
    pa = dst;
  }
  // Partial sums between K blocks live in the output's own memory (s32 in place of the fp32 result).
  int32_t* part = acc ? acc : reinterpret_cast<int32_t*>(y);
  const int64_t group_bytes = b.group * 64;  // per quad

  // prefetch_next: the tile also pulls the next group's slice of B toward L2 (see Int8TileArgs).
  auto run_tile = [&](int64_t q0, int64_t g, int64_t mt, bool prefetch_next) {
    Int8TileArgs args;
    const int64_t m0 = mt * mr, n0 = g * nr;
    const int64_t kq = std::min(kcq, b.kq - q0);
    const bool last = q0 + kq >= b.kq;
    const int64_t rows = std::min(mr, M - m0);
    if (pa) {
      args.a = pa + mt * tile_bytes + q0 * rows * 4;
      args.a_row = 4;
      args.a_quad = rows * 4;
    } else {
      args.a = a.data + m0 * a.lda + q0 * 4;
      args.a_row = a.lda;
      args.a_quad = 4;
    }
    args.b = b.group_data(g) + q0 * group_bytes;
    args.kq = kq;
    args.group = b.group;
    args.rows = static_cast<int>(rows);
    args.cols = static_cast<int>(std::min(nr, N - n0));
    args.scale_a = a.scale + m0;
    args.zero_a = a.zero_point + m0;
    args.scale_b = b.scale.data() + n0;
    args.colsum = b.colsum.data() + n0;
    args.ep = &ep;
    args.n0 = n0;
    args.y = (last && !acc) ? y + m0 * N + n0 : nullptr;
    args.ldy = N;
    args.part = part + m0 * N + n0;
    args.ldpart = N;
    args.accumulate = q0 > 0;
    args.prefetch = prefetch_next && g + 1 < b.groups ? b.group_data(g + 1) + q0 * group_bytes : nullptr;
    kernels.tile(args);
  };

  // The tiles of M block [mb, mb_end) against groups [g0, g1): serpentine, every other group walking the
  // tiles backwards, so each group starts on the A tiles the last one ended on (still in L1/L2). The
  // block's second tile (its only one when alone) prefetches the next group: the first tile of each
  // group then finds its weights in L2 instead of waiting on memory.
  auto run_block = [&](int64_t mb, int64_t mb_end, int64_t g0, int64_t g1) {
    const int64_t n = mb_end - mb, pf = std::min<int64_t>(1, n - 1);
    for (int64_t q0 = 0; q0 < b.kq; q0 += kcq)
      for (int64_t g = g0; g < g1; ++g) {
        const bool back = (g - g0) % 2 == 1;
        for (int64_t j = 0; j < n; ++j) run_tile(q0, g, back ? mb_end - 1 - j : mb + j, j == pf && g + 1 < g1);
      }
  };
  // Split N (groups of columns) when there are enough of them — every thread then reads its own part
  // of B once, which is what bounds the small-M (memory-bound) case — else split the M tiles.
  if (b.groups >= 2 * static_cast<int64_t>(t) || m_tiles < 2 * t) {
    const int64_t grain = (b.groups + t - 1) / t;
    ThreadPool::global().parallel_for(b.groups, t, grain, [&](int64_t g0, int64_t g1) {
      for (int64_t mb = 0; mb < m_tiles; mb += block_tiles) run_block(mb, std::min(m_tiles, mb + block_tiles), g0, g1);
    });
  } else {
    const int64_t grain = (m_tiles + t - 1) / t;
    ThreadPool::global().parallel_for(m_tiles, t, grain, [&](int64_t t0, int64_t t1) {
      for (int64_t mb = t0; mb < t1; mb += block_tiles) run_block(mb, std::min(t1, mb + block_tiles), 0, b.groups);
    });
  }
}

}  // namespace sparq
