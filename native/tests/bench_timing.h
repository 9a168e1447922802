// Best-of-N wall time for the C++ benchmarks: on a shared machine the fastest repetition is the one
// least disturbed by other processes.
#pragma once
#include <algorithm>
#include <chrono>

namespace sparq_test {

template <typename F>
double best_seconds(F&& fn, int reps) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

}  // namespace sparq_test
