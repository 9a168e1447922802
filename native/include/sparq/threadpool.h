// A persistent pool of native worker threads shared by every kernel and the executor. No thread is
// created per call. One job runs at a time; a caller that finds the pool busy (another session's
// run, a nested parallel region) runs its job inline on its own thread rather than waiting.
#pragma once
#include <cstdint>
#include <functional>

namespace sparq {

class ThreadPool {
 public:
  // The process-wide pool. Its size is SPARQ_THREADS or default_threads().
  static ThreadPool& global();

  // Calls fn(begin, end) over chunks covering [0, n), using up to `threads` threads (the caller
  // included; threads <= 0 means all). Chunks are `grain` items (>= 1). Returns when all are done.
  // Exceptions thrown by fn are rethrown in the caller (the first one).
  void parallel_for(int64_t n, int threads, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

  int size() const;                 // threads available including the caller
  // Workers pinned to a core of their own (worker i to the (i+1)-th physical core of the affinity
  // mask, where the pool spans exactly its cores; SPARQ_AFFINITY=0 turns it off). Counted as each
  // worker starts: 0 until then.
  int pinned_workers() const;
  void resize(int threads);         // grow or shrink the worker count (not while a job runs)
  static int default_threads();     // SPARQ_THREADS, else the physical cores this process may use

  ~ThreadPool();

 private:
  ThreadPool();
  struct Impl;
  Impl* impl_;
};

// Threads to use for a job of `work` multiply-adds: one below the threshold where spreading pays.
int threads_for_work(double work, int requested);

}  // namespace sparq
