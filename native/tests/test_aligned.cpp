// aligned_allocate / AlignedBuffer (sparq/aligned.h): zero-filled, aligned (2 MiB from 2 MiB up on
// Linux, where such blocks are their own huge-page mappings), released, and refused when absurd.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#if defined(__linux__)
#include <unistd.h>
#endif

#include "check.h"
#include "sparq/aligned.h"

namespace {

bool all_zero(const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != 0) return false;
  return true;
}

#if defined(__linux__)
// A field of the mapping holding p in /proc/self/smaps (its number), -1 if not found. THPeligible: 1
// where the block may get huge pages (in the "madvise" THP mode, only once advised); AnonHugePages: kB
// of it on huge pages.
long smaps_field(const void* p, const char* field) {
  FILE* f = std::fopen("/proc/self/smaps", "r");
  if (!f) return -1;
  const uintptr_t at = reinterpret_cast<uintptr_t>(p);
  const size_t length = std::strlen(field);
  char line[512];
  bool inside = false;
  long found = -1;
  while (std::fgets(line, sizeof line, f)) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && std::strchr(line, '-') < std::strchr(line, ' '))
      inside = lo <= at && at < hi;
    else if (inside && std::strncmp(line, field, length) == 0) {
      found = std::atol(line + length);
      break;
    }
  }
  std::fclose(f);
  return found;
}
int thp_eligible(const void* p) { return static_cast<int>(smaps_field(p, "THPeligible:")); }
long anon_huge_kb(const void* p) { return smaps_field(p, "AnonHugePages:"); }

std::string thp_mode() {
  FILE* f = std::fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
  char buf[128] = {0};
  if (f) {
    if (!std::fgets(buf, sizeof buf, f)) buf[0] = 0;
    std::fclose(f);
  }
  return buf;
}
#endif

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

// A block allocated at load: zeroed, aligned and writable either way; every page of it eligible for huge
// pages once the outermost scope ends, whether it was faulted on huge pages at once (fast faults) or left
// on small pages (after a slow fault, forced here) and advised at the end.
void check_load_time_block(bool slow) {
  sparq::assume_slow_huge_page_faults(slow);
  const size_t bytes = size_t(6) << 20;
  void* block = nullptr;
  {
    const sparq::LoadTimeAllocations outer;
    block = sparq::aligned_allocate(bytes);
    {
      const sparq::LoadTimeAllocations inner;  // nested: the advice waits for the outer scope
      void* scratch = sparq::aligned_allocate(bytes);
      sparq::aligned_release(scratch, bytes);  // released inside: dropped from the list, never advised
    }
    auto* b = static_cast<unsigned char*>(block);
    CHECK(reinterpret_cast<uintptr_t>(b) % (size_t(2) << 20) == 0 && all_zero(b, bytes));
    b[0] = 1;
    b[bytes - 1] = 2;
#if defined(__linux__)
    // In the "madvise" mode a block left on small pages is not eligible while the packer fills it.
    if (slow && thp_mode().find("[madvise]") != std::string::npos)
      CHECK_MSG(thp_eligible(block) == 0 && thp_eligible(b + bytes - 1) == 0, "eligible inside the scope");
#endif
  }
#if defined(__linux__)
  const auto* b = static_cast<const unsigned char*>(block);
  if (thp_mode().find("[never]") == std::string::npos && thp_eligible(b) >= 0)
    CHECK_MSG(thp_eligible(b) == 1 && thp_eligible(b + bytes - 1) == 1, "slow %d: THPeligible %d / %d after the scope", slow,
              thp_eligible(b), thp_eligible(b + bytes - 1));
#endif
  sparq::aligned_release(block, bytes);
  sparq::assume_slow_huge_page_faults(false);
}

TEST(a_block_left_on_small_pages_is_collapsed_in_the_background_and_a_release_mid_way_is_safe) {
  sparq::assume_slow_huge_page_faults(true);
  const size_t bytes = size_t(16) << 20;
  void* block = nullptr;
  void* dropped = nullptr;
  {
    const sparq::LoadTimeAllocations scope;
    block = sparq::aligned_allocate(bytes);
    dropped = sparq::aligned_allocate(bytes);
    std::memset(block, 7, bytes);  // the packer fills it: small pages
    std::memset(dropped, 7, bytes);
  }
  sparq::aligned_release(dropped, bytes);  // queued for collapse, released before or while it runs
  sparq::assume_slow_huge_page_faults(false);
#if defined(__linux__)
  if (thp_mode().find("[never]") == std::string::npos && anon_huge_kb(block) >= 0) {
    long huge = 0;
    for (int i = 0; i < 60 && huge < 2048; ++i) {  // up to 3 s (it takes ~0.1 s; khugepaged alone, 10 s scans)
      huge = anon_huge_kb(block);
      if (huge < 2048) usleep(50000);
    }
    CHECK_MSG(huge >= 2048, "AnonHugePages %ld kB after 3 s", huge);
  }
#endif
  const auto* b = static_cast<const unsigned char*>(block);
  bool intact = true;
  for (size_t i = 0; i < bytes; i += 4093) intact = intact && b[i] == 7;
  CHECK_MSG(intact && b[bytes - 1] == 7, "contents changed by the collapse");
  sparq::aligned_release(block, bytes);
}

TEST(load_time_blocks_end_up_advised_for_huge_pages_fast_faults_or_slow) {
  check_load_time_block(false);
  check_load_time_block(true);
  // Outside any scope a large block is advised at once.
  const size_t bytes = size_t(6) << 20;
  void* now = sparq::aligned_allocate(bytes);
#if defined(__linux__)
  const int eligible = thp_eligible(now);
  if (eligible >= 0 && thp_mode().find("[never]") == std::string::npos) CHECK_MSG(eligible == 1, "THPeligible %d outside a scope", eligible);
#endif
  sparq::aligned_release(now, bytes);
}

TEST_MAIN()
