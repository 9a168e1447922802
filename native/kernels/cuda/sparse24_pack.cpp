// Host-side packing of 2:4 int8 weights for mma.sp: kept values compressed two per group of four,
// and the metadata laid out per (16-row tile, 64-k slice) in the lane order of sparse24_layout.h.
// N is padded to 128 and K to 128 (whole CTA tiles) so the kernel needs no bounds on W.
#include <algorithm>
#include <cstdlib>
#include <string>

#include "sparq/cuda.h"
#include "sparq/error.h"
#include "sparse24_layout.h"

namespace sparq::cuda {

namespace {
int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
}  // namespace

Sparse24Host pack_2to4_s8(const int8_t* wt, int64_t N, int64_t K, int layout) {
  if (N <= 0 || K <= 0) throw invalid_argument("2:4 weights need N > 0 and K > 0");
  if (layout < 0 || layout >= kSparse24Layouts) throw invalid_argument("unknown 2:4 metadata layout " + std::to_string(layout));
  Sparse24Host h;
  h.N = N;
  h.K = K;
  h.Npad = round_up(N, 128);
  h.Kpad = round_up(K, 128);
  const int64_t half = h.Kpad / 2, groups = h.Kpad / 4;
  h.values.assign(static_cast<size_t>(h.Npad * half), 0);
  // idx[n][q] = i0 | i1 << 2 for every group q of every (padded) row.
  std::vector<uint8_t> idx(static_cast<size_t>(h.Npad * groups), uint8_t(0 | (1 << 2)));
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t q = 0; q < groups; ++q) {
      int kept[2], count = 0;
      for (int i = 0; i < 4; ++i) {
        const int64_t k = 4 * q + i;
        if (k < K && wt[n * K + k] != 0) {
          if (count == 2)
            throw invalid_argument("weights are not 2:4 sparse: row " + std::to_string(n) + " has more than 2 nonzeros in k " +
                                   std::to_string(4 * q) + ".." + std::to_string(4 * q + 3));
          kept[count++] = i;
        }
      }
      // Fewer than two nonzeros: complete with unused positions, keeping the indices increasing.
      for (int i = 0; count < 2 && i < 4; ++i) {
        if (count == 1 && i == kept[0]) continue;
        if (count == 1 && i < kept[0]) { kept[1] = kept[0]; kept[0] = i; count = 2; break; }
        kept[count++] = i;
      }
      for (int v = 0; v < 2; ++v) {
        const int64_t k = 4 * q + kept[v];
        h.values[static_cast<size_t>(n * half + 2 * q + v)] = k < K ? wt[n * K + k] : 0;
      }
      idx[static_cast<size_t>(n * groups + q)] = uint8_t(kept[0] | (kept[1] << 2));
    }
  }
  const int64_t tiles_n = h.Npad / 16, slices = h.Kpad / 64;
  h.meta.assign(static_cast<size_t>(tiles_n * slices * 32), 0);
  for (int64_t tn = 0; tn < tiles_n; ++tn)
    for (int64_t s = 0; s < slices; ++s)
      for (int lane = 0; lane < 32; ++lane) {
        uint32_t e = 0;
        for (int j = 0; j < 8; ++j) {
          const detail::MetaSlot slot = detail::meta_slot(layout, lane, j);
          const int64_t n = tn * 16 + slot.row, q = s * 16 + slot.group;
          e |= uint32_t(idx[static_cast<size_t>(n * groups + q)]) << (4 * j);
        }
        h.meta[static_cast<size_t>((tn * slices + s) * 32 + lane)] = e;
      }
  return h;
}

std::vector<int8_t> unpack_2to4_s8(const Sparse24Host& h, int layout) {
  std::vector<int8_t> w(static_cast<size_t>(h.N * h.K), 0);
  const int64_t half = h.Kpad / 2, slices = h.Kpad / 64;
  for (int64_t tn = 0; tn < h.Npad / 16; ++tn)
    for (int64_t s = 0; s < slices; ++s)
      for (int lane = 0; lane < 32; ++lane) {
        const uint32_t e = h.meta[static_cast<size_t>((tn * slices + s) * 32 + lane)];
        for (int j = 0; j < 8; ++j) {
          const detail::MetaSlot slot = detail::meta_slot(layout, lane, j);
          const int64_t n = tn * 16 + slot.row, q = s * 16 + slot.group;
          if (n >= h.N) continue;
          for (int v = 0; v < 2; ++v) {
            const int i = (e >> (4 * j + 2 * v)) & 3;
            const int64_t k = 4 * q + i;
            const int8_t val = h.values[static_cast<size_t>(n * half + 2 * q + v)];
            if (k < h.K) w[static_cast<size_t>(n * h.K + k)] = val;
          }
        }
      }
  return w;
}

void prune_2to4_s8(int8_t* wt, int64_t N, int64_t K) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k0 = 0; k0 < K; k0 += 4) {
      int8_t* g = wt + n * K + k0;
      const int len = static_cast<int>(std::min<int64_t>(4, K - k0));
      // Keep the two largest magnitudes (ties to the lower k): zero the others.
      int best[2] = {-1, -1};
      for (int i = 0; i < len; ++i) {
        const int a = std::abs(int(g[i]));
        if (best[0] < 0 || a > std::abs(int(g[best[0]]))) { best[1] = best[0]; best[0] = i; }
        else if (best[1] < 0 || a > std::abs(int(g[best[1]]))) best[1] = i;
      }
      for (int i = 0; i < len; ++i)
        if (i != best[0] && i != best[1]) g[i] = 0;
    }
}

}  // namespace sparq::cuda
