// A minimal test harness for the C++ tests (no dependency, runs on a bare GPU host): CHECK macros
// that count failures, TEST cases registered statically, and helpers shared by the kernel tests.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace sparq_test {

struct Case {
  const char* name;
  std::function<void()> fn;
};
inline std::vector<Case>& cases() {
  static std::vector<Case> all;
  return all;
}
inline int& failures() {
  static int n = 0;
  return n;
}
struct Registrar {
  Registrar(const char* name, std::function<void()> fn) { cases().push_back({name, std::move(fn)}); }
};

// Runs every case (or those whose name contains argv[1]); prints "N passed, N failed".
inline int run_all(int argc, char** argv) {
  int passed = 0, failed = 0;
  for (auto& c : cases()) {
    if (argc > 1 && std::string(c.name).find(argv[1]) == std::string::npos) continue;
    const int before = failures();
    try {
      c.fn();
    } catch (const std::exception& e) {
      std::printf("  exception: %s\n", e.what());
      ++failures();
    }
    if (failures() == before) {
      ++passed;
      std::printf("ok   %s\n", c.name);
    } else {
      ++failed;
      std::printf("FAIL %s\n", c.name);
    }
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

// Deterministic random data.
inline std::vector<float> random_vector(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

inline std::vector<float> nan_filled(size_t n) { return std::vector<float>(n, std::numeric_limits<float>::quiet_NaN()); }

// Worst error of `got` against `want`, scaled by `scale[i]` (the magnitude that bounds rounding:
// sum |x||w| + |bias| + 1 per output). NaN anywhere counts as infinite.
inline double max_scaled_error(const std::vector<float>& got, const std::vector<float>& want, const std::vector<double>& scale) {
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(got[i]) != std::isnan(want[i])) return INFINITY;
    if (std::isnan(got[i])) continue;
    double e = std::fabs(static_cast<double>(got[i]) - want[i]) / scale[i];
    if (e > worst) worst = e;
  }
  return worst;
}

}  // namespace sparq_test

#define TEST(name)                                                         \
  static void name();                                                      \
  static ::sparq_test::Registrar name##_registrar(#name, name);            \
  static void name()

#define CHECK(cond)                                                                      \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::printf("  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);             \
      ++::sparq_test::failures();                                                        \
    }                                                                                    \
  } while (0)

#define CHECK_MSG(cond, ...)                                                             \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::printf("  %s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);             \
      std::printf(__VA_ARGS__);                                                          \
      std::printf("\n");                                                                 \
      ++::sparq_test::failures();                                                        \
    }                                                                                    \
  } while (0)

#define TEST_MAIN() \
  int main(int argc, char** argv) { return ::sparq_test::run_all(argc, argv); }
