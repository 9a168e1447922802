#include "sparq/run_queue.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
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
// How long a thread that finished a job polls for the next before sleeping: longer than a JS turn
// between two awaited runs (resolve, continue, validate, submit: 5-20 µs), short enough that an idle
// service doesn't burn a core.
constexpr auto kSpin = std::chrono::microseconds(100);
}  // namespace

struct RunQueue::Impl {
  std::mutex m;
  std::condition_variable cv;
  std::deque<std::function<void()>> jobs;  // guarded by m
  std::atomic<int> queued{0};              // jobs.size(), readable without the lock while spinning
  int sleepers = 0;                        // guarded by m
  std::atomic<int> spinning{0};
  bool stop = false;  // guarded by m
  std::vector<std::thread> threads;

  bool take(std::function<void()>& job) {
    std::lock_guard<std::mutex> lock(m);
    if (jobs.empty()) return false;
    job = std::move(jobs.front());
    jobs.pop_front();
    queued.fetch_sub(1, std::memory_order_relaxed);
    return true;
  }

  void loop() {
    std::function<void()> job;
    for (;;) {
      if (take(job)) {
        job();
        job = nullptr;
        // Poll for the next job a while: the caller's next run usually comes within microseconds.
        spinning.fetch_add(1, std::memory_order_relaxed);
        const auto until = std::chrono::steady_clock::now() + kSpin;
        // Yielding between polls: the JS thread that receives this job's completion (and the pool's
        // workers) may be waiting for this core, above all where threads outnumber cores.
        while (queued.load(std::memory_order_acquire) == 0) {
          for (int i = 0; i < 16; ++i) SPARQ_PAUSE();
          std::this_thread::yield();
          if (std::chrono::steady_clock::now() >= until) break;
        }
        spinning.fetch_sub(1, std::memory_order_relaxed);
        continue;
      }
      // Nothing queued: sleep. The predicate is checked under the lock, so a job pushed after the
      // last poll is seen here, and one pushed later finds this thread among the sleepers.
      std::unique_lock<std::mutex> lock(m);
      ++sleepers;
      cv.wait(lock, [&] { return stop || !jobs.empty(); });
      --sleepers;
      if (stop) return;
    }
  }
};

RunQueue::RunQueue(int threads) : impl_(new Impl) {
  for (int i = 0; i < threads; ++i) impl_->threads.emplace_back([this] { impl_->loop(); });
}

RunQueue::~RunQueue() {
  {
    std::lock_guard<std::mutex> lock(impl_->m);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  for (auto& t : impl_->threads) t.join();
  delete impl_;
}

RunQueue& RunQueue::global() {
  // Leaked on purpose, as the thread pool: its threads must not be joined during static destruction.
  static RunQueue* queue = [] {
    int n = static_cast<int>(std::min(4u, std::max(1u, std::thread::hardware_concurrency())));
    if (const char* env = std::getenv("SPARQ_RUN_THREADS")) {
      const int v = std::atoi(env);
      if (v >= 1 && v <= 64) n = v;
    }
    return new RunQueue(n);
  }();
  return *queue;
}

int RunQueue::size() const { return static_cast<int>(impl_->threads.size()); }

void RunQueue::submit(std::function<void()> job) {
  bool wake;
  {
    std::lock_guard<std::mutex> lock(impl_->m);
    impl_->jobs.push_back(std::move(job));
    const int queued = impl_->queued.fetch_add(1, std::memory_order_release) + 1;
    // A spinning thread takes the job without a wake-up; wake a sleeper only for what they can't take.
    wake = impl_->sleepers > 0 && queued > impl_->spinning.load(std::memory_order_relaxed);
  }
  if (wake) impl_->cv.notify_one();
}

}  // namespace sparq
