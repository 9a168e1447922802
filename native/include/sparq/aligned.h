// 64-byte aligned, zero-initialised, owning float/byte buffers for packed weights and workspaces.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace sparq {

// Zero-filled storage of `bytes` (> 0), at least 64-byte aligned; throws std::bad_alloc. On Linux a
// block of 2 MiB or more is its own mapping, on a 2 MiB boundary and advised for transparent huge
// pages (the default THP mode, "madvise", gives them only to regions that ask): weights streamed
// from L3 or memory then cost one TLB entry per 2 MiB instead of 512. On the 2-core Zen 4 VM that took
// the int8 GEMM at 32x4096x4096 from 88-94% of the vpdpbusd peak to 96-97%, at 128x4096x4096 from
// 93-95% to 95-96%. Release with aligned_release and the same size.
void* aligned_allocate(size_t bytes);
void aligned_release(void* p, size_t bytes) noexcept;

// Load time. While one lives on a thread, the large blocks that thread allocates are faulted at once on
// huge pages, 2 MiB at a time, for as long as a huge page faults faster than 512 small ones would; past
// the first slow one (and in every later block of the process) the rest stays on ordinary 4 KiB pages
// for the packer to fill, and when the outermost scope ends a background thread collapses it into huge
// pages (MADV_COLLAPSE, 2 MiB a step, lowest priority; khugepaged where the kernel lacks it). The
// binding's pack entry points run the packers inside one. Why: where a host backs its guests' memory
// lazily (the 2-core Firecracker VM here), a fresh 2 MiB page costs 0.2 ms or ~5 ms to fault, by chance,
// and 512 small pages a steady ~0.8 ms: packing the 118 MB encoder ONNX's 113 MB of weights cost 10 ms or
// 210-280 ms of system time on huge pages (1 process in 3 slow, most when processes follow each other),
// against 40-45 ms on small ones. Huge pages stay the goal once the session exists: a 113 MB stream reads
// at 28-31 GB/s on them and 21 GB/s on small pages here, which a memory-bound decode step feels (GPT
// 6x768 fp32 decode 1.17x onnxruntime's speed on small pages, 1.4-1.8x on huge ones).
class LoadTimeAllocations {
 public:
  LoadTimeAllocations() noexcept;
  ~LoadTimeAllocations();
  LoadTimeAllocations(const LoadTimeAllocations&) = delete;
  LoadTimeAllocations& operator=(const LoadTimeAllocations&) = delete;
};

// For tests: whether load-time blocks should take small pages at once, as after a slow huge-page fault.
void assume_slow_huge_page_faults(bool slow) noexcept;

template <typename T>
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t count) { resize(count); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  AlignedBuffer(AlignedBuffer&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    if (this != &o) {
      release();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  ~AlignedBuffer() { release(); }

  // Discards the contents; the new storage is zero-filled.
  void resize(size_t count) {
    release();
    if (count == 0) return;
    data_ = static_cast<T*>(aligned_allocate(count * sizeof(T)));
    size_ = count;
  }
  // Grows (never shrinks) without preserving contents: for reusable scratch space.
  T* reserve(size_t count) {
    if (count > size_) resize(count);
    return data_;
  }

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }
  size_t bytes() const noexcept { return size_ * sizeof(T); }
  T& operator[](size_t i) noexcept { return data_[i]; }
  const T& operator[](size_t i) const noexcept { return data_[i]; }

 private:
  void release() noexcept {
    if (data_) aligned_release(data_, size_ * sizeof(T));
    data_ = nullptr;
    size_ = 0;
  }

  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace sparq
