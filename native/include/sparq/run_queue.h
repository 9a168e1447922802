// A few dedicated threads that run whole jobs (a session's run) off the caller's thread. A session's
// async run() hands its plan here instead of to libuv's work queue: a thread that just finished a job
// spins a short while for the next one, so back-to-back runs never pay a sleeping thread's wake-up
// (a futex wake is 5-30 µs on a VM), and an idle queue costs nothing (its threads sleep on a condition
// variable). Jobs run in submission order, up to size() at once.
#pragma once
#include <functional>

namespace sparq {

class RunQueue {
 public:
  // The process-wide queue: min(4, cores) threads, started on first use. SPARQ_RUN_THREADS overrides.
  static RunQueue& global();

  // Queues job; returns at once. job must not throw (the caller catches and records its errors).
  void submit(std::function<void()> job);

  int size() const;
  ~RunQueue();
  RunQueue(const RunQueue&) = delete;
  RunQueue& operator=(const RunQueue&) = delete;

 private:
  explicit RunQueue(int threads);
  struct Impl;
  Impl* impl_;
};

}  // namespace sparq
