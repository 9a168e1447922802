// Thread pool stress: many back-to-back jobs (workers that wake late must find their job closed and
// never run a chunk of it, or of the next one, twice), concurrent callers, exceptions.
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "check.h"
#include "sparq/threadpool.h"

TEST(pool_many_small_jobs_cover_each_range_exactly_once) {
  auto& pool = sparq::ThreadPool::global();
  if (pool.size() < 2) pool.resize(2);
  for (int job = 0; job < 20000; ++job) {
    const int64_t n = 1 + job % 37;
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    pool.parallel_for(n, 0, 1 + job % 3, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
    });
    for (auto& h : hits) CHECK(h.load() == 1);
  }
}

TEST(pool_concurrent_callers_and_exceptions) {
  auto& pool = sparq::ThreadPool::global();
  std::atomic<int64_t> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 3; ++c)
    callers.emplace_back([&] {
      for (int job = 0; job < 2000; ++job)
        pool.parallel_for(64, 0, 4, [&](int64_t b, int64_t e) { total.fetch_add(e - b); });
    });
  for (auto& t : callers) t.join();
  CHECK(total.load() == 3 * 2000 * 64);
  for (int job = 0; job < 200; ++job) {
    bool threw = false;
    try {
      pool.parallel_for(16, 0, 1, [&](int64_t b, int64_t) {
        if (b == job % 16) throw std::runtime_error("boom");
      });
    } catch (const std::runtime_error&) {
      threw = true;
    }
    CHECK(threw);
  }
}

// A job whose worker chunk takes far longer than the caller's (a worker kept off its core) makes the
// next jobs run on the caller alone for a while (the contention back-off): every range is still
// covered exactly once, and a job that starts within the back-off window runs no chunk on a worker.
TEST(pool_backs_off_after_a_stalled_worker) {
  auto& pool = sparq::ThreadPool::global();
  if (pool.size() < 2) pool.resize(2);
  using Clock = std::chrono::steady_clock;
  const std::thread::id caller = std::this_thread::get_id();
  for (int attempt = 0; attempt < 20; ++attempt) {
    std::atomic<bool> worker_started{false};
    std::atomic<int> covered{0};
    pool.parallel_for(2, 2, 1, [&](int64_t b, int64_t e) {
      covered.fetch_add(static_cast<int>(e - b));
      if (std::this_thread::get_id() != caller) {
        worker_started = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the stalled worker
      } else {
        // Give a worker the time to join (a busy machine may not run it at all: then no stall).
        const auto until = Clock::now() + std::chrono::milliseconds(50);
        while (!worker_started && Clock::now() < until) std::this_thread::yield();
      }
    });
    CHECK(covered.load() == 2);
    if (!worker_started) continue;  // the caller ran both chunks: nothing to back off from
    const auto after = Clock::now();
    std::atomic<int> on_workers{0}, hits{0};
    pool.parallel_for(64, 2, 1, [&](int64_t b, int64_t e) {
      hits.fetch_add(static_cast<int>(e - b));
      if (std::this_thread::get_id() != caller) on_workers.fetch_add(1);
    });
    CHECK(hits.load() == 64);
    // The window is >= 2 ms; a caller descheduled longer than that may legitimately try workers again.
    if (Clock::now() - after < std::chrono::milliseconds(1)) CHECK(on_workers.load() == 0);
    return;
  }
}

TEST_MAIN()
