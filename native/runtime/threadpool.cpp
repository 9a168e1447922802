#include "sparq/threadpool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SPARQ_PAUSE() _mm_pause()
#else
#define SPARQ_PAUSE() std::this_thread::yield()
#endif

namespace sparq {

namespace {
// A waiting thread polls kSpinPolls times (about 100 µs) before it sleeps, so the ops of one run
// (microseconds apart) find the workers awake. Every 16th poll yields the core: where threads outnumber
// cores (a small VM, a run off the event loop whose JS thread must take the completion) a spinning
// thread would otherwise hold the core that the thread it waits for, or the JS thread, needs.
constexpr int kSpinPolls = 4000;
inline void spin_pause(int spin) {
  if ((spin & 15) == 15)
    std::this_thread::yield();
  else
    SPARQ_PAUSE();
}
}  // namespace

// Workers sleep on a condition variable between jobs, after a short spin: a run of many small
// kernels (an inference) then wakes them cheaply, while an idle pool costs nothing.
struct ThreadPool::Impl {
  std::vector<std::thread> workers;
  std::mutex claim;  // held by the caller whose job owns the pool

  std::mutex m;
  std::condition_variable wake, done;
  std::atomic<uint64_t> generation{0};
  bool stop = false;

  // The current job.
  const std::function<void(int64_t, int64_t)>* fn = nullptr;
  int64_t n = 0, grain = 1;
  std::atomic<int> participants{0};  // workers (not counting the caller) that may take part
  std::atomic<int64_t> next{0};
  // Workers join a job through `ticket`: (job generation << 32) | closed bit | joined count. The
  // caller closes the job once it has run out of chunks and then waits only for the workers that
  // joined; one that wakes up later (a busy, shared machine can keep it off the CPU for a
  // scheduler tick) finds the job closed and goes back to sleep, so it never delays the caller.
  std::atomic<uint64_t> ticket{0};
  static constexpr uint64_t kClosed = 1u << 31;
  static constexpr uint64_t kCount = kClosed - 1;
  std::exception_ptr error;
  std::mutex error_mutex;

  void run_chunks() {
    for (;;) {
      int64_t begin = next.fetch_add(grain, std::memory_order_relaxed);
      if (begin >= n) break;
      int64_t end = std::min(n, begin + grain);
      try {
        (*fn)(begin, end);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next.store(n, std::memory_order_relaxed);  // stop handing out work
      }
    }
  }

  void worker_loop(int index) {
    uint64_t seen = 0;
    for (;;) {
      uint64_t gen = generation.load(std::memory_order_acquire);
      for (int spin = 0; gen == seen && spin < kSpinPolls; ++spin) {
        spin_pause(spin);
        gen = generation.load(std::memory_order_acquire);
      }
      if (gen == seen) {
        std::unique_lock<std::mutex> lock(m);
        wake.wait(lock, [&] { return stop || generation.load(std::memory_order_acquire) != seen; });
        if (stop) return;
        gen = generation.load(std::memory_order_acquire);
      }
      seen = gen;
      if (index >= participants.load(std::memory_order_relaxed)) continue;
      if (!join(gen)) continue;
      run_chunks();
      const uint64_t after = ticket.fetch_sub(1, std::memory_order_acq_rel) - 1;
      if ((after & kClosed) && (after & kCount) == 0) {
        std::lock_guard<std::mutex> lock(m);
        done.notify_all();
      }
    }
  }

  // Joins the job of generation `gen` unless it was closed or replaced by a newer one.
  bool join(uint64_t gen) {
    uint64_t t = ticket.load(std::memory_order_acquire);
    for (;;) {
      if ((t >> 32) != (gen & 0xffffffffu) || (t & kClosed)) return false;
      if (ticket.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel, std::memory_order_acquire)) return true;
    }
  }

  void start(int count) {
    for (int i = 0; i < count; ++i) workers.emplace_back([this, i] { worker_loop(i); });
  }

  void stop_all() {
    {
      std::lock_guard<std::mutex> lock(m);
      stop = true;
    }
    wake.notify_all();
    for (auto& t : workers) t.join();
    workers.clear();
    stop = false;
  }
};

int ThreadPool::default_threads() {
  if (const char* env = std::getenv("SPARQ_THREADS")) {
    int v = std::atoi(env);
    if (v >= 1 && v <= 1024) return v;
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc);
}

ThreadPool::ThreadPool() : impl_(new Impl) { impl_->start(default_threads() - 1); }

ThreadPool::~ThreadPool() {
  impl_->stop_all();
  delete impl_;
}

ThreadPool& ThreadPool::global() {
  // Leaked on purpose: worker threads must not be joined during static destruction at exit.
  static ThreadPool* pool = new ThreadPool();
  return *pool;
}

int ThreadPool::size() const { return static_cast<int>(impl_->workers.size()) + 1; }

void ThreadPool::resize(int threads) {
  std::lock_guard<std::mutex> claim(impl_->claim);
  threads = std::max(1, std::min(threads, 1024));
  if (threads == size()) return;
  impl_->stop_all();
  impl_->start(threads - 1);
}

void ThreadPool::parallel_for(int64_t n, int threads, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t chunks = (n + grain - 1) / grain;
  int want = threads <= 0 ? size() : std::min(threads, size());
  want = static_cast<int>(std::min<int64_t>(want, chunks));
  std::unique_lock<std::mutex> claim(impl_->claim, std::defer_lock);
  if (want <= 1 || !claim.try_lock()) {
    for (int64_t b = 0; b < n; b += grain) fn(b, std::min(n, b + grain));
    return;
  }
  Impl& s = *impl_;
  s.fn = &fn;
  s.n = n;
  s.grain = grain;
  s.participants.store(want - 1, std::memory_order_relaxed);
  s.error = nullptr;
  s.next.store(0, std::memory_order_relaxed);
  const uint64_t gen = s.generation.load(std::memory_order_relaxed) + 1;
  s.ticket.store((gen & 0xffffffffu) << 32, std::memory_order_release);  // open, nobody joined yet
  {
    std::lock_guard<std::mutex> lock(s.m);
    s.generation.store(gen, std::memory_order_release);
  }
  s.wake.notify_all();
  s.run_chunks();
  // Every chunk is taken: close the job and wait for the workers that joined it (their chunks).
  const auto joined = [&] { return (s.ticket.load(std::memory_order_acquire) & Impl::kCount) != 0; };
  s.ticket.fetch_or(Impl::kClosed, std::memory_order_acq_rel);
  for (int spin = 0; joined() && spin < 5 * kSpinPolls; ++spin) spin_pause(spin);
  if (joined()) {
    std::unique_lock<std::mutex> lock(s.m);
    s.done.wait(lock, [&] { return !joined(); });
  }
  s.fn = nullptr;
  if (s.error) std::rethrow_exception(s.error);
}

int threads_for_work(double work, int requested) {
  // Below ~128K multiply-adds a wake-up and a cache miss cost more than the second core saves.
  int pool = ThreadPool::global().size();
  int want = requested <= 0 ? pool : requested;
  if (work < 131072.0) return 1;
  return std::max(1, want);
}

}  // namespace sparq
