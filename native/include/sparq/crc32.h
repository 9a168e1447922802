// CRC-32 (IEEE 802.3, reflected, as zlib, zip and PNG compute it): the checksum of .sparq sections.
// Node's zlib.crc32 runs at ~5 GB/s here, a tenth of loading a small model; folding with carry-less
// multiplies runs at several times that.
#pragma once
#include <cstddef>
#include <cstdint>

namespace sparq {

// The CRC-32 of bytes [data, data + size), continuing from `crc` (the result for the bytes before:
// 0 to start), exactly as zlib's crc32(crc, data, size).
uint32_t crc32(uint32_t crc, const uint8_t* data, size_t size);

// The PCLMULQDQ fold (native/kernels/x86/crc32_pclmul.cpp): the raw (not inverted) CRC state after
// folding whole 16-byte blocks of [data, data + size) (size >= 64) into 128 bits, which it writes to
// `rest` as 16 bytes; the CRC of the input equals the raw CRC, from state 0, of `rest` followed by the
// bytes past the blocks. Needs PCLMULQDQ and SSE4.1; returns the number of bytes it consumed.
size_t crc32_fold_pclmul(uint32_t state, const uint8_t* data, size_t size, uint8_t rest[16]);

}  // namespace sparq
