// Packing entry points of the sparse fp32 formats, shared by the 'auto' format (which packs the
// candidates and keeps the fastest). Each throws sparq::Error on weights its pattern cannot hold.
#pragma once
#include <memory>

#include "sparq/packed.h"

namespace sparq {

// 'sparse' (C = 1, L = 1) and 'block' (C x L from options.block: "1x4", "4x1", "8x1", "16x1").
std::unique_ptr<PackedWeights> pack_grouped_csc(const float* W, int64_t K, int64_t N, int C, int L, const char* format,
                                                Isa isa);
// '2:4': throws ERR_INVALID_ARGUMENT when some output has more than 2 nonzeros in a group of 4 k.
std::unique_ptr<PackedWeights> pack_sparse_24(const float* W, int64_t K, int64_t N, Isa isa);
// True when every group of 4 consecutive k of every output holds at most 2 nonzeros.
bool fits_2_4(const float* W, int64_t K, int64_t N);

// Largest K the u16-indexed sparse formats hold.
constexpr int64_t kSparseMaxK = 65536;

}  // namespace sparq
