// aligned_allocate / AlignedBuffer (sparq/aligned.h): zero-filled, aligned (2 MiB from 2 MiB up on
// Linux, where such blocks are their own huge-page mappings), released, and refused when absurd.
#include <cstdint>
#include <new>
#include <utility>

#include "check.h"
#include "sparq/aligned.h"

namespace {

bool all_zero(const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != 0) return false;
  return true;
}

}  // namespace

TEST(aligned_allocate_gives_zeroed_aligned_blocks_small_and_large) {
  const size_t huge = size_t(2) << 20;
  for (size_t bytes : {size_t(1), size_t(63), size_t(4096), huge - 1, huge, huge + 4097, 3 * huge + 5}) {
    auto* p = static_cast<unsigned char*>(sparq::aligned_allocate(bytes));
    const uintptr_t at = reinterpret_cast<uintptr_t>(p);
    CHECK_MSG(at % 64 == 0, "%zu bytes at %p", bytes, static_cast<void*>(p));
#if defined(__linux__)
    if (bytes >= huge) CHECK_MSG(at % huge == 0, "%zu bytes at %p: not on a 2 MiB boundary", bytes, static_cast<void*>(p));
#endif
    CHECK_MSG(all_zero(p, bytes), "%zu bytes not zero-filled", bytes);
    p[0] = 1;
    p[bytes - 1] = 2;  // the whole block is writable
    sparq::aligned_release(p, bytes);
  }
  sparq::aligned_release(nullptr, 0);
}

TEST(aligned_allocate_refuses_sizes_that_cannot_exist) {
  for (size_t bytes : {SIZE_MAX, SIZE_MAX - 4095, SIZE_MAX / 2 * 2}) {
    bool threw = false;
    try {
      sparq::aligned_release(sparq::aligned_allocate(bytes), bytes);
    } catch (const std::bad_alloc&) {
      threw = true;
    }
    CHECK_MSG(threw, "%zu bytes", bytes);
  }
}

TEST(aligned_buffer_resizes_reserves_and_moves) {
  sparq::AlignedBuffer<float> a(10);
  CHECK(a.size() == 10 && a[9] == 0.0f);
  a[3] = 5.0f;
  float* grown = a.reserve(size_t(1) << 20);  // 4 MiB: the mapped path
  CHECK(a.size() == (size_t(1) << 20) && grown[3] == 0.0f && grown[(size_t(1) << 20) - 1] == 0.0f);
  CHECK(a.reserve(8) == grown);  // never shrinks
  sparq::AlignedBuffer<float> b(std::move(a));
  CHECK(b.data() == grown && a.data() == nullptr && a.size() == 0);
  a = std::move(b);
  CHECK(a.data() == grown && b.data() == nullptr);
  a.resize(0);
  CHECK(a.data() == nullptr && a.size() == 0);
}

TEST_MAIN()
