// Where mma.sp m16n8k64 (s8) finds each group's metadata: lane (4g + t) of the warp supplies one
// 32-bit register of eight 4-bit nibbles; nibble j describes one group of 4 consecutive k of one row
// of the 16x64 A tile (low 2 bits: index of the first kept value, high 2 bits: the second, in
// increasing order). The PTX manual gives the lane mapping only as figures, so sparq keeps the
// plausible candidates and a one-warp probe (sparse24.cu) picks the one the device agrees with.
#pragma once

namespace sparq::cuda::detail {

struct MetaSlot {
  int row;    // 0..15 within the 16-row tile
  int group;  // 0..15: k = 4·group .. 4·group+3 within the 64-k slice
};

inline MetaSlot meta_slot(int layout, int lane, int j) {
  const int g = lane >> 2, t = lane & 3;
  switch (layout) {
    case 0:  // 16 k per lane: low half row g, high half row g+8
      return {g + 8 * (j >> 2), 4 * t + (j & 3)};
    case 1:  // each lane describes the kept values it holds in its own A fragment
      return {g + 8 * ((j >> 1) & 1), 2 * t + (j & 1) + 8 * (j >> 2)};
    case 2:  // 16 k per lane, rows g and g+8 alternating by nibble
      return {g + 8 * (j & 1), 4 * t + (j >> 1)};
    case 3:  // 32 k of one row per lane: lanes t = 0, 1 row g, t = 2, 3 row g+8
      return {g + 8 * (t >> 1), 8 * (t & 1) + j};
    default:  // 32 k of one row per lane: t = 0 row g k 0-31, t = 1 row g+8 k 0-31, t = 2, 3 the same for
              // k 32-63 (what CUTLASS's reorder_meta interleave + 2x2 swap produces for 8-bit types)
      return {g + 8 * (t & 1), 8 * (t >> 1) + j};
  }
}

}  // namespace sparq::cuda::detail
