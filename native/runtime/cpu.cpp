#include "sparq/cpu.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>

#include "sparq/error.h"

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#define SPARQ_X86 1
#include <cpuid.h>
#endif

namespace sparq {
namespace {

#ifdef SPARQ_X86
// XCR0 via xgetbv, written as bytes so this file needs no -mxsave flag.
uint64_t read_xcr0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#ifdef SPARQ_X86
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = (c >> 27) & 1;
  const bool fma = (c >> 12) & 1;
  f.pclmul = (c >> 1) & 1;
  if (!osxsave) return f;
  const uint64_t xcr0 = read_xcr0();
  const bool ymm_os = (xcr0 & 0x6) == 0x6;     // SSE + AVX state
  const bool zmm_os = (xcr0 & 0xe6) == 0xe6;   // + opmask, ZMM_Hi256, Hi16_ZMM
  if (!ymm_os) return f;
  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  f.fma = fma;
  f.avx2 = (b >> 5) & 1;
  f.bmi2 = (b >> 8) & 1;
  if (zmm_os) {
    f.avx512f = (b >> 16) & 1;
    f.avx512dq = (b >> 17) & 1;
    f.avx512bw = (b >> 30) & 1;
    f.avx512vl = (b >> 31) & 1;
    f.avx512vnni = (c >> 11) & 1;
    f.avx512vbmi = (c >> 1) & 1;
    f.avx512vbmi2 = (c >> 6) & 1;
  }
  __cpuid_count(7, 1, a, b, c, d);
  f.avxvnni = (a >> 4) & 1;
  if (zmm_os) f.avx512bf16 = (a >> 5) & 1;
#endif
  return f;
}

Isa best_isa(const CpuFeatures& f) {
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.fma) return Isa::avx512;
  if (f.avx2 && f.fma) return Isa::avx2;
  return Isa::scalar;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

long l2_cache_bytes() {
  static const long bytes = [] {
    long b = 0;
#ifdef _SC_LEVEL2_CACHE_SIZE
    b = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
    if (b <= 0) b = 1L << 20;
    return std::clamp(b, 256L << 10, 4L << 20);
  }();
  return bytes;
}

bool isa_supported(Isa isa) { return static_cast<int>(isa) <= static_cast<int>(best_isa(cpu_features())); }

std::vector<Isa> available_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512})
    if (isa_supported(isa)) out.push_back(isa);
  return out;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
    default: return "scalar";
  }
}

bool parse_isa(const std::string& name, Isa* out) {
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512}) {
    if (name == isa_name(isa)) {
      *out = isa;
      return true;
    }
  }
  return false;
}

Isa active_isa() {
  // Resolved once; a bad SPARQ_ISA keeps failing with the same error on every use.
  static std::once_flag once;
  static Isa isa = Isa::scalar;
  static std::string error_code, error_message;
  std::call_once(once, [] {
    isa = best_isa(cpu_features());
    const char* forced = std::getenv("SPARQ_ISA");
    if (forced && *forced) {
      Isa wanted;
      if (!parse_isa(forced, &wanted)) {
        error_code = "ERR_INVALID_ARGUMENT";
        error_message = std::string("Expected one of scalar, avx2, avx512 for SPARQ_ISA but received '") + forced + "'";
      } else if (!isa_supported(wanted)) {
        error_code = "ERR_ISA_UNSUPPORTED";
        error_message = std::string("SPARQ_ISA=") + forced + " was requested but this CPU supports only up to " +
                        isa_name(best_isa(cpu_features()));
      } else {
        isa = wanted;
      }
    }
  });
  if (!error_code.empty()) throw Error(error_code, error_message);
  return isa;
}

std::string active_isa_label() {
  Isa isa = active_isa();
  std::string label = isa_name(isa);
  if (isa == Isa::avx512 && cpu_features().avx512vnni) label += "-vnni";
  if (isa == Isa::avx2 && cpu_features().avxvnni) label += "-vnni";
  return label;
}

}  // namespace sparq
