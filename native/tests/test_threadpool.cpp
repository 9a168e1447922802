// Thread pool stress: many back-to-back jobs (workers that wake late must find their job closed and
// never run a chunk of it, or of the next one, twice), concurrent callers, exceptions.
#include <atomic>
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

TEST_MAIN()
