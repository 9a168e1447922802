// aligned_allocate / aligned_release (sparq/aligned.h): small blocks from the C heap, large ones (Linux)
// as their own 2 MiB-aligned mappings with transparent huge pages, faulted with care at load time
// (LoadTimeAllocations).
#include "sparq/aligned.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25  // Linux 6.1; older kernels refuse it (EINVAL) and khugepaged does it later
#endif
#endif

namespace sparq {
namespace {

constexpr size_t kHugePage = size_t(2) << 20;

// LoadTimeAllocations: how many scopes this thread is inside, and the ranges left on small pages meanwhile,
// advised for huge pages when the outermost scope ends.
thread_local int deferring = 0;
thread_local std::vector<std::pair<char*, size_t>> deferred;

// Set once a huge page took longer to fault than 512 small ones would (~0.8 ms here): from then on, blocks
// allocated at load go straight to small pages. 1.5 ms: fast huge-page faults take ~0.2 ms, slow ~5 ms.
std::atomic<bool> slow_huge_faults{false};
constexpr std::chrono::microseconds kSlowHugeFault{1500};

#if defined(__linux__)
constexpr size_t kPage = 4096;

// Collapses the blocks a load left on small pages into huge pages, 2 MiB a step, on a thread of its own
// at the lowest priority (started on first need; never stopped or destroyed, so no exit-time teardown
// races a step). A step runs under the lock aligned_release takes for a block still queued, so a block is
// never collapsed after its release (nor its address range once reused): a release waits out one step.
class Collapser {
 public:
  static Collapser& get() {
    static Collapser* const one = new Collapser();  // process-lifetime, see above
    return *one;
  }
  void add(const std::vector<std::pair<char*, size_t>>& ranges) {
    {
      const std::lock_guard<std::mutex> lock(m_);
      for (const auto& r : ranges) queue_.push_back(r);
      if (!started_) {
        std::thread([this] { run(); }).detach();
        started_ = true;
      }
    }
    ready_.notify_one();
  }
  // A block released: its ranges leave the queue (waiting for a step in progress on it).
  void forget(char* from, size_t length) {
    const std::lock_guard<std::mutex> lock(m_);
    queue_.erase(std::remove_if(queue_.begin(), queue_.end(), [&](const auto& r) { return r.first >= from && r.first < from + length; }),
                 queue_.end());
  }
  static bool in_use() { return used_.load(std::memory_order_acquire); }
  // Loads in progress on any thread, and when the last one ended.
  static inline std::atomic<int> loading_{0};
  static inline std::atomic<std::chrono::steady_clock::time_point> last_load_{};
  static constexpr std::chrono::milliseconds kQuiet{200};

 private:
  Collapser() { used_.store(true, std::memory_order_release); }
  void run() {
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 19);  // this thread only
    std::unique_lock<std::mutex> lock(m_);
    for (;;) {
      ready_.wait(lock, [this] { return !queue_.empty(); });
      // Not while weights are being packed: a collapse holds locks the packer's page faults wait on
      // (creating the encoder session took 200-440 ms beside it against 120-170 ms alone). It starts
      // once no load has run for kQuiet, i.e. after create() returns, beside the first runs.
      const auto since = std::chrono::steady_clock::now() - last_load_.load(std::memory_order_relaxed);
      if (loading_.load(std::memory_order_relaxed) > 0 || since < kQuiet) {
        ready_.wait_for(lock, kQuiet);
        continue;
      }
      auto& [p, length] = queue_.front();
      const size_t step = std::min(length, kHugePage);
      madvise(p, step, MADV_COLLAPSE);  // best effort: a failure leaves small pages for khugepaged
      p += step;
      length -= step;
      if (length < kHugePage) queue_.pop_front();  // a tail under 2 MiB stays on small pages
      // Let a release (or the packer's next block) in between steps.
      lock.unlock();
      std::this_thread::yield();
      lock.lock();
    }
  }
  std::mutex m_;
  std::condition_variable ready_;
  std::deque<std::pair<char*, size_t>> queue_;
  bool started_ = false;
  static std::atomic<bool> used_;
};
std::atomic<bool> Collapser::used_{false};

size_t mapped_bytes(size_t bytes) { return (bytes + kPage - 1) / kPage * kPage; }

// A block allocated inside LoadTimeAllocations: faulted here on huge pages, 2 MiB at a time, for as long as
// they fault fast; the rest (all of it once a slow fault was seen) is left on small pages for the packer
// to fault as it fills them, then advised for huge pages and queued for the Collapser at the scope's end.
void fault_at_load(char* p, size_t length) {
  size_t at = 0;
  if (!slow_huge_faults.load(std::memory_order_relaxed)) {
    madvise(p, length, MADV_HUGEPAGE);
    while (at + kHugePage <= length) {
      const auto t0 = std::chrono::steady_clock::now();
      *static_cast<volatile char*>(p + at) = 0;  // a write fault: the whole 2 MiB page, zero-filled
      at += kHugePage;
      if (std::chrono::steady_clock::now() - t0 > kSlowHugeFault) {
        slow_huge_faults.store(true, std::memory_order_relaxed);
        break;
      }
    }
    if (at + kHugePage > length) return;  // what is left cannot hold a huge page anyway
    madvise(p + at, length - at, MADV_NOHUGEPAGE);
  }
  try {
    deferred.emplace_back(p + at, length - at);
  } catch (...) {
    munmap(p, length);
    throw;
  }
}

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
  char* p = reinterpret_cast<char*>(aligned);
  if (deferring > 0)
    fault_at_load(p, length);
  else
    madvise(p, length, MADV_HUGEPAGE);  // advice only: without THP the block is ordinary pages
  return p;
}
#endif

}  // namespace

LoadTimeAllocations::LoadTimeAllocations() noexcept {
#if defined(__linux__)
  if (deferring == 0) Collapser::loading_.fetch_add(1, std::memory_order_relaxed);
#endif
  ++deferring;
}

LoadTimeAllocations::~LoadTimeAllocations() {
  if (--deferring > 0) return;
#if defined(__linux__)
  Collapser::last_load_.store(std::chrono::steady_clock::now(), std::memory_order_relaxed);
  Collapser::loading_.fetch_sub(1, std::memory_order_relaxed);
  for (const auto& [p, length] : deferred) madvise(p, length, MADV_HUGEPAGE);
  if (!deferred.empty()) {
    try {
      Collapser::get().add(deferred);
    } catch (...) {
      // No thread or no memory for the queue: khugepaged collapses the advised ranges in its own time.
    }
  }
#endif
  deferred.clear();
}

void assume_slow_huge_page_faults(bool slow) noexcept { slow_huge_faults.store(slow, std::memory_order_relaxed); }

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
    const size_t length = mapped_bytes(bytes);
    if (deferring > 0) {
      // Released inside the scope (a packer's scratch block): its range is not advised at the end.
      char* const from = static_cast<char*>(p);
      deferred.erase(std::remove_if(deferred.begin(), deferred.end(), [&](const auto& d) { return d.first >= from && d.first < from + length; }),
                     deferred.end());
    }
    if (Collapser::in_use()) Collapser::get().forget(static_cast<char*>(p), length);
    munmap(p, length);
    return;
  }
#endif
  (void)bytes;
  std::free(p);
}

}  // namespace sparq
