// Thread pool stress: many back-to-back jobs (workers that wake late must find their job closed and
// never run a chunk of it, or of the next one, twice), concurrent callers, exceptions.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "check.h"
#include "sparq/threadpool.h"

#if defined(__linux__)
#include <sched.h>
#endif

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

#if defined(__linux__)
// The CPUs the calling thread may run on.
static cpu_set_t thread_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  sched_getaffinity(0, sizeof(set), &set);
  return set;
}

// The affinity a pool worker runs with, seen from inside a chunk (an empty set if no worker ran one).
static cpu_set_t worker_cpus(sparq::ThreadPool& pool) {
  const std::thread::id caller = std::this_thread::get_id();
  cpu_set_t seen;
  CPU_ZERO(&seen);
  for (int attempt = 0; attempt < 200 && CPU_COUNT(&seen) == 0; ++attempt) {
    std::atomic<bool> done{false};
    pool.parallel_for(2, 2, 1, [&](int64_t, int64_t) {
      if (std::this_thread::get_id() != caller) {
        seen = thread_cpus();
        done = true;
      } else {
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
        while (!done && std::chrono::steady_clock::now() < until) std::this_thread::yield();
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(3));  // let a contention back-off expire
  }
  return seen;
}

// Where the pool spans exactly the process's cores (two or more), its first worker is pinned to one
// core that is not the first (left to the callers); SPARQ_AFFINITY=0, or a pool of another size, leaves
// it on the whole mask, as the caller is.
TEST(pool_pins_workers_to_their_own_core_unless_told_not_to) {
  auto& pool = sparq::ThreadPool::global();
  const cpu_set_t process = thread_cpus();
  const int cores = sparq::ThreadPool::default_threads();
  if (cores < 2) return;  // nothing to pin
  const auto unpinned = [&](int size) {
    pool.resize(1);
    pool.resize(size);
    const cpu_set_t seen = worker_cpus(pool);
    CHECK(pool.pinned_workers() == 0);
    CHECK(CPU_COUNT(&seen) == 0 || CPU_EQUAL(&seen, &process));
  };
  setenv("SPARQ_AFFINITY", "0", 1);
  unpinned(cores);
  unsetenv("SPARQ_AFFINITY");
  unpinned(cores + 1);
  if (cores > 2) unpinned(2);
  pool.resize(1);
  pool.resize(cores);
  const cpu_set_t seen = worker_cpus(pool);
  if (pool.pinned_workers() == cores - 1) {
    int first = 0;
    while (!CPU_ISSET(first, &process)) ++first;
    CHECK(CPU_COUNT(&seen) >= 1);
    CHECK(CPU_COUNT(&seen) < CPU_COUNT(&process));
    CHECK(!CPU_ISSET(first, &seen));
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
      if (CPU_ISSET(cpu, &seen)) CHECK(CPU_ISSET(cpu, &process));
  } else {
    // Not pinned: a cgroup CPU quota below the mask (SPARQ_THREADS would change default_threads too).
    CHECK(pool.pinned_workers() == 0);
    CHECK(CPU_COUNT(&seen) == 0 || CPU_EQUAL(&seen, &process));
  }
}
#endif

TEST_MAIN()
