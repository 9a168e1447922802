// sparq::crc32 against a bitwise CRC-32 written from the definition, for every length 0..600 at every
// alignment 0..15, continued CRCs, and zlib's published check value.
#include <random>
#include <vector>

#include "check.h"
#include "sparq/crc32.h"

namespace {

uint32_t bitwise(uint32_t crc, const uint8_t* p, size_t n) {
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int j = 0; j < 8; ++j) crc = (crc & 1) ? 0xedb88320u ^ (crc >> 1) : crc >> 1;
  }
  return ~crc;
}

}  // namespace

TEST(crc32_matches_the_definition) {
  const uint8_t check[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
  CHECK(sparq::crc32(0, check, 9) == 0xcbf43926u);
  CHECK(sparq::crc32(0, nullptr, 0) == 0);
  std::mt19937 rng(7);
  std::vector<uint8_t> buf(4096 + 16);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  for (size_t off = 0; off < 16; ++off)
    for (size_t n = 0; n <= 600; ++n) CHECK(sparq::crc32(0, buf.data() + off, n) == bitwise(0, buf.data() + off, n));
  // Continued: crc(a ++ b) == crc32(crc32(0, a), b), across the fold's block boundaries too.
  for (size_t split : {0u, 1u, 15u, 64u, 100u, 1000u, 4096u}) {
    const uint32_t whole = sparq::crc32(0, buf.data(), 4096);
    CHECK(sparq::crc32(sparq::crc32(0, buf.data(), split), buf.data() + split, 4096 - split) == whole);
    CHECK(whole == bitwise(0, buf.data(), 4096));
  }
  std::vector<uint8_t> zeros(1000, 0), ones(1000, 0xff);
  CHECK(sparq::crc32(0, zeros.data(), zeros.size()) == bitwise(0, zeros.data(), zeros.size()));
  CHECK(sparq::crc32(0, ones.data(), ones.size()) == bitwise(0, ones.data(), ones.size()));
}

TEST_MAIN()
