// The sparse-int8 unpacker's fast path (sparq/spmm_int8.h, nonzero_offsets): the k offsets of one range's
// nonzeros from its block map and 4-bit block masks, without a loop over blocks. Per 16 quads: pdep puts
// the blocks' masks into their quads' nibbles (a 64-bit map of the nonzero k), and vpcompressb writes
// the positions of its set bits. The scalar loop it replaces costs ~20 instructions per block.
#include <immintrin.h>

#include <cstring>

#include "sparq/spmm_int8.h"

// pdep (BMI2), vpcompressb (AVX512-VBMI2), popcnt: only called where the dispatch saw all three.
#pragma GCC target("bmi2,avx512vbmi2,avx512bw,popcnt")

namespace sparq {

int64_t nonzero_offsets_avx512(uint64_t bitmap, const uint8_t* masks, uint64_t first, int kmax, uint8_t* out) {
  constexpr uint64_t kNibbleLow = 0x1111111111111111ull;
  const __m512i iota = _mm512_set_epi8(63, 62, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43,
                                       42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22,
                                       21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  uint64_t nibble = first;  // the next block's mask, counted in nibbles from `masks`
  int64_t written = 0;
  uint64_t bad = 0;
  for (int w = 0; w < 4; ++w) {
    const uint64_t quads = (bitmap >> (16 * w)) & 0xffffu;
    if (!quads) continue;
    const uint64_t present = _pdep_u64(quads, kNibbleLow);  // bit 4q per quad holding a block
    // The next (up to) 16 masks, packed: 64 bits from nibble `nibble` (9 bytes read; masks has slack).
    uint64_t lo, hi = masks[(nibble >> 1) + 8];
    std::memcpy(&lo, masks + (nibble >> 1), 8);
    const uint64_t packed = (nibble & 1) ? (lo >> 4) | (hi << 60) : lo;
    const uint64_t kmap = _pdep_u64(packed, present * 0xf);  // bit 4q + l: k = 4q + l is stored
    // Every stored block holds a code; no k at or past kmax (K's end in the last chunk).
    bad |= ((kmap | kmap >> 1 | kmap >> 2 | kmap >> 3) & kNibbleLow) ^ present;
    const int valid = kmax - 64 * w;
    if (valid < 64) bad |= valid <= 0 ? kmap : kmap >> valid;
    const __m512i k = _mm512_add_epi8(iota, _mm512_set1_epi8(static_cast<char>(64 * w)));
    _mm512_storeu_si512(out + written, _mm512_maskz_compress_epi8(kmap, k));
    written += _mm_popcnt_u64(kmap);
    nibble += static_cast<uint64_t>(_mm_popcnt_u64(quads));
  }
  return bad ? -1 : written;
}

int32_t sum_checked_codes_avx512(const int8_t* codes, int64_t n, int weight_max, bool& bad) {
  const __m512i hi = _mm512_set1_epi8(static_cast<char>(weight_max)), lo = _mm512_set1_epi8(static_cast<char>(-weight_max));
  const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512i sums = _mm512_setzero_si512();
  __mmask64 wrong = 0;
  for (int64_t i = 0; i < n; i += 64) {
    const __mmask64 valid = n - i >= 64 ? ~__mmask64{0} : (__mmask64{1} << (n - i)) - 1;
    const __m512i c = _mm512_maskz_loadu_epi8(valid, codes + i);
    wrong |= _mm512_mask_cmpeq_epi8_mask(valid, c, _mm512_setzero_si512()) | _mm512_mask_cmpgt_epi8_mask(valid, c, hi) |
             _mm512_mask_cmplt_epi8_mask(valid, c, lo);
    // code + 128 as u8, summed in 8-byte groups against zero (vpsadbw); the 128s come off below.
    sums = _mm512_add_epi64(sums, _mm512_sad_epu8(_mm512_maskz_mov_epi8(valid, _mm512_xor_si512(c, bias)), _mm512_setzero_si512()));
  }
  bad |= wrong != 0;
  return static_cast<int32_t>(_mm512_reduce_add_epi64(sums) - 128 * n);
}

int32_t sum_checked_words_avx512(const int32_t* words, int64_t n, int weight_max, bool& bad, int64_t& nonzero) {
  const __m512i hi = _mm512_set1_epi8(static_cast<char>(weight_max)), lo = _mm512_set1_epi8(static_cast<char>(-weight_max));
  const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80)), zero = _mm512_setzero_si512();
  __m512i sums = _mm512_setzero_si512();
  __mmask64 wrong = 0;
  __mmask16 empty = 0;
  int64_t nz = 0;
  for (int64_t i = 0; i < n; i += 16) {
    const int64_t left = n - i;
    const __mmask16 valid = left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1);
    const __mmask64 bytes = left >= 16 ? ~__mmask64{0} : (__mmask64{1} << (4 * left)) - 1;
    const __m512i w = _mm512_maskz_loadu_epi32(valid, words + i);
    empty |= _mm512_mask_cmpeq_epi32_mask(valid, w, zero);
    wrong |= _mm512_mask_cmpgt_epi8_mask(bytes, w, hi) | _mm512_mask_cmplt_epi8_mask(bytes, w, lo);
    nz += _mm_popcnt_u64(_mm512_mask_cmpneq_epi8_mask(bytes, w, zero));
    // code + 128 as u8, summed in 8-byte groups against zero (vpsadbw); the 128s come off below.
    sums = _mm512_add_epi64(sums, _mm512_sad_epu8(_mm512_maskz_mov_epi8(bytes, _mm512_xor_si512(w, bias)), zero));
  }
  bad |= (wrong != 0) | (empty != 0);
  nonzero += nz;
  return static_cast<int32_t>(_mm512_reduce_add_epi64(sums) - 128 * 4 * n);
}

}  // namespace sparq
