// CRC-32 (sparq/crc32.h): the PCLMULQDQ fold for the bulk where the CPU has it, a slicing-by-8 table
// for the rest (and everywhere else).
#include "sparq/crc32.h"

#include <array>
#include <cstring>

#include "sparq/cpu.h"

namespace sparq {
namespace {

using Tables = std::array<std::array<uint32_t, 256>, 8>;

Tables make_tables() {
  Tables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int j = 0; j < 8; ++j) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i)
    for (size_t k = 1; k < 8; ++k) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
  return t;
}

const Tables& tables() {
  static const Tables t = make_tables();
  return t;
}

// The raw state (no inversion) over bytes: eight at a time, then one by one.
uint32_t update(uint32_t state, const uint8_t* p, size_t n) {
  const Tables& t = tables();
  for (; n >= 8; p += 8, n -= 8) {
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= state;  // little-endian hosts (static_assert below): byte 0 is the low byte
    state = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^ t[3][hi & 0xff] ^
            t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
  }
  for (; n > 0; ++p, --n) state = t[0][(state ^ *p) & 0xff] ^ (state >> 8);
  return state;
}

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the table CRC reads words little-endian");

}  // namespace

uint32_t crc32(uint32_t crc, const uint8_t* data, size_t size) {
  uint32_t state = ~crc;
#if defined(__x86_64__) || defined(__i386__)
  if (size >= 64 && cpu_features().pclmul) {
    uint8_t rest[16];
    const size_t used = crc32_fold_pclmul(state, data, size, rest);
    state = update(0, rest, 16);
    data += used;
    size -= used;
  }
#endif
  return ~update(state, data, size);
}

}  // namespace sparq
