#include "sparq/threadpool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SPARQ_PAUSE() _mm_pause()
#else
#define SPARQ_PAUSE() std::this_thread::yield()
#endif

namespace sparq {

namespace {
// A waiting thread polls kSpinPolls times (about 100 µs) before it sleeps, so the ops of one run
// (microseconds apart) find the workers awake. It yields every 16th poll: where threads outnumber cores
// (a small VM, a server whose JS thread parses requests beside the run) it would otherwise hold the core
// that the thread it waits for, or the JS thread, needs; `sparq serve` lost 10-15% of its BERT
// throughput at 16 connections without the yields. But beside a thread that never blocks (onnxruntime's
// intra-op worker, pinned to core 1 and spinning for tens of ms after each of its runs) a yield hands
// that thread the core until the next scheduler tick (4 ms here): a yielding worker got its core for 3%
// of the jobs it was woken for, a non-yielding one for 80%. So a worker whose yield took longer than
// kHogYieldNs (a thread ran a millisecond without blocking) stops yielding for kNoYieldNs.
constexpr int kSpinPolls = 4000;
constexpr int64_t kHogYieldNs = 1'000'000;
constexpr int64_t kNoYieldNs = 200'000'000;

// Contention back-off. A job whose caller, once out of chunks, waits for the workers' chunks longer
// than it computed itself would have been as fast on the caller alone: a worker got less than half a
// core (a host with more runnable threads than cores: another process, or another runtime's pool
// spinning in the same process, as onnxruntime's does for tens of ms after each of its runs). The next
// jobs then run on the caller alone for a window (kBackoffMin, doubling up to kBackoffMax while
// contention lasts), after which one job tries the workers again. Stalls shorter than kStallFloor
// (a wake-up from sleep) never count.
using Clock = std::chrono::steady_clock;
constexpr int64_t kStallFloorNs = 100'000;
constexpr int64_t kBackoffMinNs = 2'000'000;
constexpr int64_t kBackoffMaxNs = 64'000'000;
inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}
inline void spin_pause(int spin) {
  if ((spin & 15) == 15)
    std::this_thread::yield();
  else
    SPARQ_PAUSE();
}

// A worker's spin: yields as spin_pause does, until a yield takes longer than kHogYieldNs; then none
// until `no_yield_until` (ns, per worker).
inline void worker_pause(int spin, int64_t& no_yield_until) {
  if ((spin & 15) != 15) return SPARQ_PAUSE();
  const int64_t before = now_ns();
  if (before < no_yield_until) return SPARQ_PAUSE();
  std::this_thread::yield();
  const int64_t after = now_ns();
  if (after - before > kHogYieldNs) no_yield_until = after + kNoYieldNs;
}

#if defined(__linux__)
struct CpuSet {
  cpu_set_t set;
  CpuSet() { CPU_ZERO(&set); }
};

// An integer read from a sysfs / cgroup file, or -1.
long long read_number(const char* path) {
  FILE* f = std::fopen(path, "r");
  if (!f) return -1;
  long long v = -1;
  if (std::fscanf(f, "%lld", &v) != 1) v = -1;
  std::fclose(f);
  return v;
}

// The cgroup's CPU quota in whole cores, rounded up (v2 cpu.max, else v1 cfs quota), or 0 for none.
int cgroup_cpu_limit() {
  long long quota = -1, period = -1;
  if (FILE* f = std::fopen("/sys/fs/cgroup/cpu.max", "r")) {
    char q[32] = {0};
    if (std::fscanf(f, "%31s %lld", q, &period) == 2 && q[0] != 'm') quota = std::atoll(q);
    std::fclose(f);
  } else {
    quota = read_number("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
    period = read_number("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  }
  if (quota <= 0 || period <= 0) return 0;
  return static_cast<int>(std::max(1LL, (quota + period - 1) / period));
}

// The physical cores among the CPUs this process may run on, each as the set of its logical CPUs
// (SMT siblings), in the order of their first CPU; empty if the affinity mask cannot be read.
std::vector<CpuSet> affinity_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return {};
  std::vector<std::pair<std::pair<long long, long long>, CpuSet>> cores;  // (core, package) -> its CPUs
  char path[128];
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &set)) continue;
    std::snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
    const long long core = read_number(path);
    std::snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
    const long long package = read_number(path);
    // Without topology (some containers hide it) every CPU counts as a core.
    const std::pair<long long, long long> key{core < 0 ? -1 - cpu : core, core < 0 ? 0 : package};
    auto it = std::find_if(cores.begin(), cores.end(), [&](const auto& c) { return c.first == key; });
    if (it == cores.end()) it = cores.insert(cores.end(), {key, CpuSet{}});
    CPU_SET(cpu, &it->second.set);
  }
  std::vector<CpuSet> out;
  for (auto& c : cores) out.push_back(c.second);
  return out;
}

// The cores to pin `count` workers to: worker i gets core i + 1, the first core is left to the
// callers (the JS thread, a compute thread), as onnxruntime's default intra-op pool does. Pinning
// keeps a woken worker off its caller's core and lets it own its own; it is only done where the pool
// spans exactly the cores of the affinity mask (the default size): not where SPARQ_AFFINITY=0, where
// SPARQ_THREADS asks for fewer threads (processes that share a machine, each with a small pool, would
// all pin to core 1) or more, or where a cgroup CPU quota (a container's --cpus) is smaller than the
// mask (other containers then run on the same cores, and every one would pin to core 1).
std::vector<CpuSet> pinned_worker_cores(int count) {
  if (count <= 0) return {};
  if (const char* env = std::getenv("SPARQ_AFFINITY"); env && (std::strcmp(env, "0") == 0 || std::strcmp(env, "off") == 0))
    return {};
  std::vector<CpuSet> cores = affinity_cores();
  if (static_cast<int>(cores.size()) != count + 1) return {};
  if (const int limit = cgroup_cpu_limit(); limit > 0 && limit < static_cast<int>(cores.size())) return {};
  return std::vector<CpuSet>(cores.begin() + 1, cores.begin() + 1 + count);
}

bool pin_current_thread(const CpuSet& core) { return sched_setaffinity(0, sizeof(core.set), &core.set) == 0; }
#else
struct CpuSet {};
std::vector<CpuSet> pinned_worker_cores(int) { return {}; }
bool pin_current_thread(const CpuSet&) { return false; }
#endif
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

  // Contention back-off (see kStallFloorNs): jobs run on their caller alone until solo_until (ns).
  std::atomic<int64_t> solo_until{0};
  int64_t backoff_ns = 0;  // the window the next contended job opens; claim holder only

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
    int64_t no_yield_until = 0;
    for (;;) {
      uint64_t gen = generation.load(std::memory_order_acquire);
      for (int spin = 0; gen == seen && spin < kSpinPolls; ++spin) {
        worker_pause(spin, no_yield_until);
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

  // The cores the workers are pinned to (one each), or empty: then none is.
  std::vector<CpuSet> worker_cores;

  std::atomic<int> pinned_count{0};

  void start(int count) {
    worker_cores = pinned_worker_cores(count);
    pinned_count = 0;
    for (int i = 0; i < count; ++i)
      workers.emplace_back([this, i] {
        if (!worker_cores.empty() && pin_current_thread(worker_cores[static_cast<size_t>(i)])) pinned_count.fetch_add(1);
        worker_loop(i);
      });
  }

  void stop_all() {
    {
      std::lock_guard<std::mutex> lock(m);
      stop = true;
    }
    wake.notify_all();
    for (auto& t : workers) t.join();
    workers.clear();
    worker_cores.clear();
    stop = false;
  }
};


int ThreadPool::default_threads() {
  if (const char* env = std::getenv("SPARQ_THREADS")) {
    int v = std::atoi(env);
    if (v >= 1 && v <= 1024) return v;
  }
  // As onnxruntime's default intra-op pool: one thread per physical core this process may use. SMT
  // siblings share a core's FMA units, so a second thread per core adds synchronisation, not
  // throughput, to these compute-bound kernels; cores outside the affinity mask or beyond the
  // cgroup's CPU quota (a container's --cpus) would only be time-sliced against the others.
  unsigned hc = std::thread::hardware_concurrency();
  int n = hc == 0 ? 1 : static_cast<int>(hc);
#if defined(__linux__)
  if (const int cores = static_cast<int>(affinity_cores().size()); cores > 0) n = cores;
  if (const int limit = cgroup_cpu_limit(); limit > 0) n = std::min(n, limit);
#endif
  return std::max(1, std::min(n, 1024));
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

int ThreadPool::pinned_workers() const { return impl_->pinned_count.load(); }

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
  const int64_t start = want > 1 ? now_ns() : 0;
  if (want > 1 && start < impl_->solo_until.load(std::memory_order_relaxed)) want = 1;
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
  if (joined()) {
    const int64_t own_end = now_ns();
    for (int spin = 0; joined() && spin < 5 * kSpinPolls; ++spin) spin_pause(spin);
    if (joined()) {
      std::unique_lock<std::mutex> lock(s.m);
      s.done.wait(lock, [&] { return !joined(); });
    }
    const int64_t end = now_ns(), stall = end - own_end;
    if (stall > kStallFloorNs && stall > own_end - start) {
      s.backoff_ns = std::min(kBackoffMaxNs, std::max(kBackoffMinNs, 2 * s.backoff_ns));
      s.solo_until.store(end + s.backoff_ns, std::memory_order_relaxed);
    } else {
      s.backoff_ns = 0;
    }
  } else {
    s.backoff_ns = 0;
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
