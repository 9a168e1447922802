// aligned_allocate / aligned_release (sparq/aligned.h): small blocks from the C heap, large ones (Linux)
// as their own 2 MiB-aligned mappings with transparent huge pages.
#include "sparq/aligned.h"

#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace sparq {
namespace {

constexpr size_t kHugePage = size_t(2) << 20;

#if defined(__linux__)
constexpr size_t kPage = 4096;

size_t mapped_bytes(size_t bytes) { return (bytes + kPage - 1) / kPage * kPage; }

// Maps one huge page more than needed and unmaps the ends that fall outside the 2 MiB-aligned block.
// Fresh anonymous pages read as zero: no memset.
void* map_huge_aligned(size_t bytes) {
  const size_t length = mapped_bytes(bytes), span = length + kHugePage;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > start) munmap(raw, aligned - start);
  const size_t tail = start + span - (aligned + length);
  if (tail > 0) munmap(reinterpret_cast<void*>(aligned + length), tail);
  void* p = reinterpret_cast<void*>(aligned);
  madvise(p, length, MADV_HUGEPAGE);  // advice only: without THP the block is ordinary pages
  return p;
}
#endif

}  // namespace

void* aligned_allocate(size_t bytes) {
  // No size this close to the address space's end can be mapped; refuse it before the roundings wrap.
  if (bytes > SIZE_MAX - 2 * kHugePage) throw std::bad_alloc();
#if defined(__linux__)
  if (bytes >= kHugePage) return map_huge_aligned(bytes);
#endif
  const size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, rounded);
  return p;
}

void aligned_release(void* p, size_t bytes) noexcept {
  if (!p) return;
#if defined(__linux__)
  if (bytes >= kHugePage) {
    munmap(p, mapped_bytes(bytes));
    return;
  }
#endif
  (void)bytes;
  std::free(p);
}

}  // namespace sparq
