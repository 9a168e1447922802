#include "sparq/peak.h"

#include <algorithm>
#include <chrono>

#include "sparq/cpu.h"

namespace sparq {

double measure_peak_gops(PeakKind kind, double millis) {
#if defined(__x86_64__) || defined(__i386__)
  const auto& f = cpu_features();
  double (*loop)(long) = nullptr;
  if (kind == PeakKind::fp32_fma && isa_supported(Isa::avx512)) loop = peak_loop_fp32_avx512;
  if (isa_supported(Isa::avx512) && f.avx512vnni) {
    if (kind == PeakKind::int8_vnni) loop = peak_loop_int8_avx512vnni;
    if (kind == PeakKind::int8_vnni_ymm) loop = peak_loop_int8_avx512vnni_ymm;
    if (kind == PeakKind::int8_vnni_add) loop = peak_loop_int8_avx512vnni_add;
  }
  if (!loop) return 0.0;
  using clock = std::chrono::steady_clock;
  loop(100000);  // warm up the clock and the vector units
  // Best of several short runs: the machine is shared, the ceiling is what the core can do.
  double best = 0.0;
  const auto end = clock::now() + std::chrono::duration<double, std::milli>(millis);
  while (clock::now() < end) {
    const auto t0 = clock::now();
    const double ops = loop(200000);
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    best = std::max(best, ops / s / 1e9);
  }
  return best;
#else
  (void)kind;
  (void)millis;
  return 0.0;
#endif
}

}  // namespace sparq
