// MatMulInteger: (A - a_zp) · (B - b_zp) -> int32 with numpy batch broadcasting.
// Every dtype combination is reduced to u8 A · s8 B (an s8 A is shifted by +128, a u8 B by -128, the
// zero points shifted alike), so one kernel serves all: A rows are copied K-padded to a multiple of 4,
// B is packed into VNNI panels (SSE2 byte interleave), the kernel (qgemm_u8s8_for) computes the raw
// sums and the zero points are applied after with the row and column sums:
//   sum (a - za)(b - zb) = sum ab + (-za)·(colsum(b) - K·zb) + (-rowsum(a))·zb,
// applied by the kernel before its store (QgemmEpilogue).
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "sparq/aligned.h"
#include "sparq/error.h"
#include "sparq/ops.h"
#include "sparq/ops_kernels.h"
#include "sparq/sgemm.h"
#include "sparq/threadpool.h"

namespace sparq {

QgemmU8S8 qgemm_u8s8_for(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  if (isa == Isa::avx512 && cpu_features().avx512vnni) return qgemm_u8s8_avx512vnni;
#else
  (void)isa;
#endif
  return qgemm_u8s8_scalar;
}

namespace {

inline int32_t zero_point(DType t, const void* zp, int64_t count, int64_t i) {
  if (!zp) return 0;
  const int64_t j = count == 1 ? 0 : i;
  return t == DType::uint8 ? static_cast<int32_t>(static_cast<const uint8_t*>(zp)[j])
                           : static_cast<int32_t>(static_cast<const int8_t*>(zp)[j]);
}

// B (K x N bytes) -> VNNI panels of s8 (flipping a u8 B by 0x80 = -128).
void pack_b(const uint8_t* b, int64_t K, int64_t N, int64_t Kp, uint8_t flip, int8_t* Bp) {
  const int64_t panels = (N + 15) / 16;
  std::memset(Bp, 0, static_cast<size_t>(panels * Kp * 16));
  for (int64_t q = 0; q * 4 < K; ++q) {
    const int64_t k0 = 4 * q;
    const int64_t kr = std::min<int64_t>(4, K - k0);
    int64_t p = 0;
#if defined(__SSE2__)
    if (kr == 4) {
      const __m128i fl = _mm_set1_epi8(static_cast<char>(flip));
      for (; (p + 1) * 16 <= N; ++p) {
        const uint8_t* src = b + k0 * N + p * 16;
        const __m128i r0 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src)), fl);
        const __m128i r1 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + N)), fl);
        const __m128i r2 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * N)), fl);
        const __m128i r3 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 3 * N)), fl);
        const __m128i t0 = _mm_unpacklo_epi8(r0, r1), t1 = _mm_unpackhi_epi8(r0, r1);
        const __m128i t2 = _mm_unpacklo_epi8(r2, r3), t3 = _mm_unpackhi_epi8(r2, r3);
        auto* dst = reinterpret_cast<__m128i*>(Bp + p * Kp * 16 + q * 64);
        _mm_storeu_si128(dst, _mm_unpacklo_epi16(t0, t2));
        _mm_storeu_si128(dst + 1, _mm_unpackhi_epi16(t0, t2));
        _mm_storeu_si128(dst + 2, _mm_unpacklo_epi16(t1, t3));
        _mm_storeu_si128(dst + 3, _mm_unpackhi_epi16(t1, t3));
      }
    }
#endif
    for (; p * 16 < N; ++p) {
      const int64_t cols = std::min<int64_t>(16, N - p * 16);
      int8_t* dst = Bp + p * Kp * 16 + q * 64;
      for (int64_t j = 0; j < cols; ++j)
        for (int64_t t = 0; t < kr; ++t) dst[4 * j + t] = static_cast<int8_t>(b[(k0 + t) * N + p * 16 + j] ^ flip);
    }
  }
}

// A (M x K bytes) -> u8 rows of Kp bytes (flipping an s8 A by 0x80 = +128), and its row sums.
void pack_a(const uint8_t* a, int64_t M, int64_t K, int64_t Kp, uint8_t flip, uint8_t* Ap, int32_t* rowsum) {
  for (int64_t m = 0; m < M; ++m) {
    uint8_t* dst = Ap + m * Kp;
    const uint8_t* src = a + m * K;
    int32_t s = 0;
    for (int64_t k = 0; k < K; ++k) {
      dst[k] = src[k] ^ flip;
      s += dst[k];
    }
    std::fill(dst + K, dst + Kp, uint8_t(0));
    rowsum[m] = s;
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
  int64_t sa[kMaxRank] = {}, sb[kMaxRank] = {};
  {
    int64_t st = 1;
    for (int i = a_shape.rank - 3, o = batch_rank - 1; i >= 0; --i, --o) sa[o] = a_shape.dims[i] == 1 ? 0 : st, st *= a_shape.dims[i];
    st = 1;
    for (int i = b_shape.rank - 3, o = batch_rank - 1; i >= 0; --i, --o) sb[o] = b_shape.dims[i] == 1 ? 0 : st, st *= b_shape.dims[i];
  }
  // Effective zero points after the flips: (a - za) = (a_u - (za + 128)) for s8 A, (b - zb) = (b_s - (zb - 128)) for u8 B.
  const uint8_t a_flip = a_type == DType::int8 ? 0x80 : 0, b_flip = b_type == DType::uint8 ? 0x80 : 0;
  const int32_t a_shift = a_type == DType::int8 ? 128 : 0, b_shift = b_type == DType::uint8 ? -128 : 0;
  std::vector<int32_t> za(static_cast<size_t>(M)), zb(static_cast<size_t>(N));
  for (int64_t m = 0; m < M; ++m) za[m] = zero_point(a_type, a_zp, a_zp_count, m) + a_shift;
  for (int64_t n = 0; n < N; ++n) zb[n] = zero_point(b_type, b_zp, b_zp_count, n) + b_shift;

  const int64_t Kp = (K + 3) / 4 * 4, panels = (N + 15) / 16;
  AlignedBuffer<int8_t> Bp(static_cast<size_t>(std::max<int64_t>(1, panels * Kp * 16)));
  AlignedBuffer<uint8_t> Ap(static_cast<size_t>(std::max<int64_t>(1, M * Kp)));
  // Correction terms (qgemm epilogue): u = -za, w = -rowsum(a), v = colsum(b) - K·zb, x = zb.
  std::vector<int32_t> u(static_cast<size_t>(M)), w(static_cast<size_t>(M)), v(static_cast<size_t>(N)),
      x(static_cast<size_t>(N));
  for (int64_t m = 0; m < M; ++m) u[m] = static_cast<int32_t>(0u - static_cast<uint32_t>(za[m]));
  for (int64_t n = 0; n < N; ++n) x[n] = zb[n];
  const QgemmEpilogue ep{u.data(), w.data(), v.data(), x.data()};
  std::vector<uint8_t> ones(static_cast<size_t>(std::max<int64_t>(1, Kp)), 1);
  const QgemmU8S8 kernel = qgemm_u8s8_for(ctx.isa);
  const int t = threads_for_work(static_cast<double>(M) * N * K / 4.0, ctx.threads);
  // Tasks: 64-column blocks x row chunks (multiples of 6 rows).
  const int64_t nblocks = (N + 63) / 64;
  const int64_t mchunk = std::max<int64_t>(6, (M / std::max<int64_t>(1, (t + nblocks - 1) / nblocks) + 5) / 6 * 6);
  const int64_t mchunks = (M + mchunk - 1) / mchunk;
  int64_t prev_a = -1, prev_b = -1;
  for (int64_t bi = 0; bi < nb; ++bi) {
    int64_t rem = bi, ia = 0, ib = 0;
    for (int d = batch_rank - 1; d >= 0; --d) {
      const int64_t i = rem % out.dims[d];
      rem /= out.dims[d];
      ia += i * sa[d];
      ib += i * sb[d];
    }
    if (ib != prev_b) {
      pack_b(static_cast<const uint8_t*>(B) + ib * K * N, K, N, Kp, b_flip, Bp.data());
      // Column sums as a one-row product with a row of ones, on the same kernel.
      kernel(1, N, Kp, ones.data(), Kp, Bp.data(), v.data(), N, nullptr);
      for (int64_t n = 0; n < N; ++n)
        v[n] = static_cast<int32_t>(static_cast<uint32_t>(v[n]) - static_cast<uint32_t>(K) * static_cast<uint32_t>(zb[n]));
      prev_b = ib;
    }
    if (ia != prev_a) {
      pack_a(static_cast<const uint8_t*>(A) + ia * M * K, M, K, Kp, a_flip, Ap.data(), w.data());
      for (int64_t m = 0; m < M; ++m) w[m] = static_cast<int32_t>(0u - static_cast<uint32_t>(w[m]));
      prev_a = ia;
    }
    int32_t* ym = Y + bi * M * N;
    auto run = [&](int64_t w0, int64_t w1) {
      for (int64_t task = w0; task < w1; ++task) {
        const int64_t m0 = (task / nblocks) * mchunk, n0 = (task % nblocks) * 64;
        const int64_t rows = std::min(mchunk, M - m0), cols = std::min<int64_t>(64, N - n0);
        const QgemmEpilogue tile_ep{ep.u + m0, ep.w + m0, ep.v + n0, ep.x + n0};
        kernel(rows, cols, Kp, Ap.data() + m0 * Kp, Kp, Bp.data() + (n0 / 16) * Kp * 16, ym + m0 * N + n0, N, &tile_ep);
      }
    };
    if (t <= 1)
      run(0, mchunks * nblocks);
    else
      ThreadPool::global().parallel_for(mchunks * nblocks, t, 1, run);
  }
}

}  // namespace sparq
