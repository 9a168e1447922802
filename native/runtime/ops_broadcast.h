// Internal to the op drivers: the broadcast walker (operand strides over the output, adjacent dims
// coalesced so the innermost run is as long as possible, each operand's inner stride 0 or 1), and
// the element-range splitting every element-wise driver uses for threads.
#pragma once
#include <algorithm>
#include <cstdint>

#include "sparq/shape.h"
#include "sparq/threadpool.h"

namespace sparq {
namespace detail {

struct Broadcast {
  int rank = 1;  // coalesced, >= 1
  int operands = 0;
  int64_t dims[kMaxRank] = {1};
  int64_t strides[3][kMaxRank] = {};

  int64_t inner() const { return dims[rank - 1]; }
  int64_t rows() const {
    int64_t r = 1;
    for (int i = 0; i + 1 < rank; ++i) r *= dims[i];
    return r;
  }
  // Element offsets of row `row`'s first element in each operand.
  void row_offsets(int64_t row, int64_t* offs) const {
    for (int o = 0; o < operands; ++o) offs[o] = 0;
    for (int d = rank - 2; d >= 0; --d) {
      const int64_t i = row % dims[d];
      row /= dims[d];
      for (int o = 0; o < operands; ++o) offs[o] += i * strides[o][d];
    }
  }
};

// `ins` must each broadcast to `out` (the caller checked).
inline Broadcast make_broadcast(const Shape& out, const Shape* ins, int n) {
  int64_t st[3][kMaxRank] = {};
  for (int o = 0; o < n; ++o) {
    int64_t s = 1;
    for (int i = ins[o].rank - 1, d = out.rank - 1; i >= 0; --i, --d) {
      st[o][d] = ins[o].dims[i] == 1 ? 0 : s;
      s *= ins[o].dims[i];
    }
  }
  Broadcast b;
  b.operands = n;
  b.rank = 0;
  for (int d = 0; d < out.rank; ++d) {
    if (out.dims[d] == 1) continue;  // size-1 dims carry no offset
    bool merge = b.rank > 0;
    for (int o = 0; o < n && merge; ++o) merge = st[o][d] * out.dims[d] == b.strides[o][b.rank - 1];
    if (merge) {
      b.dims[b.rank - 1] *= out.dims[d];
      for (int o = 0; o < n; ++o) b.strides[o][b.rank - 1] = st[o][d];
    } else {
      b.dims[b.rank] = out.dims[d];
      for (int o = 0; o < n; ++o) b.strides[o][b.rank] = st[o][d];
      ++b.rank;
    }
  }
  if (b.rank == 0) {
    b.rank = 1;
    b.dims[0] = 1;
    for (int o = 0; o < n; ++o) b.strides[o][0] = 0;
  }
  return b;
}

// Splits [0, total) element-wise work into chunks of at least `min_chunk` over up to `threads`.
// `cost` is the relative work per element (1 = a copy or an add) for the one-thread threshold.
template <typename F>
void parallel_elements(int64_t total, int threads, double cost, F&& fn) {
  if (total <= 0) return;
  const int t = threads_for_work(static_cast<double>(total) * cost, threads);
  if (t <= 1) return fn(int64_t(0), total);
  const int64_t chunks = std::min<int64_t>(static_cast<int64_t>(t) * 4, (total + 4095) / 4096);
  const int64_t per = (total + chunks - 1) / chunks;
  ThreadPool::global().parallel_for(chunks, t, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t e0 = c * per, e1 = std::min(total, e0 + per);
      if (e0 < e1) fn(e0, e1);
    }
  });
}

// Walks output elements [e0, e1) of a broadcast as runs within rows:
// fn(offsets of each operand at the run start, inner strides, out offset, run length).
template <typename F>
void for_runs(const Broadcast& b, int64_t e0, int64_t e1, F&& fn) {
  const int64_t inner = b.inner();
  int64_t offs[3];
  int64_t inner_stride[3];
  for (int o = 0; o < b.operands; ++o) inner_stride[o] = b.strides[o][b.rank - 1];
  int64_t e = e0;
  while (e < e1) {
    const int64_t row = e / inner, col = e % inner;
    const int64_t len = std::min(inner - col, e1 - e);
    b.row_offsets(row, offs);
    for (int o = 0; o < b.operands; ++o) offs[o] += col * inner_stride[o];
    fn(offs, inner_stride, e, len);
    e += len;
  }
}

}  // namespace detail
}  // namespace sparq
