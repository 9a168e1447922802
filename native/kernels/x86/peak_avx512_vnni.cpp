// Throughput loops for the peak microbenchmark, in inline assembly so the compiler can neither spill
// nor fold them: 12 independent accumulators (latency ~4 x 2 pipes needs >= 8) of vfmadd231ps zmm
// and of vpdpbusd zmm. Two variants show where the int8 ceiling comes from: vpdpbusd ymm (on a core
// that splits zmm in two, the same multiply-adds a cycle) and vpdpbusd zmm with an independent vpaddd
// after each (whether integer work on the other pipes costs multiply-adds).
#include "sparq/peak.h"

namespace sparq {

#define SPARQ_12_TIMES(op) op(0) op(1) op(2) op(3) op(4) op(5) op(6) op(7) op(8) op(9) op(10) op(11)

double peak_loop_fp32_avx512(long iters) {
  long n = iters;
#define SPARQ_FMA(i) "vfmadd231ps %%zmm12, %%zmm13, %%zmm" #i "\n\t"
  __asm__ volatile(
      "vxorps %%xmm12, %%xmm12, %%xmm12\n\t"
      "vxorps %%xmm13, %%xmm13, %%xmm13\n\t"
      "1:\n\t" SPARQ_12_TIMES(SPARQ_FMA)
      "dec %0\n\t"
      "jnz 1b\n\t"
      : "+r"(n)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
        "xmm13", "cc");
#undef SPARQ_FMA
  return static_cast<double>(iters) * 12 * 16 * 2;
}

#define SPARQ_INT8_LOOP(name, op, clobber, lanes)                                                             \
  double name(long iters) {                                                                                     \
    long n = iters;                                                                                             \
    __asm__ volatile("vpxord %%zmm12, %%zmm12, %%zmm12\n\t"                                                     \
                     "vpxord %%zmm13, %%zmm13, %%zmm13\n\t"                                                     \
                     "1:\n\t" SPARQ_12_TIMES(op) "dec %0\n\t"                                                   \
                     "jnz 1b\n\t"                                                                               \
                     : "+r"(n)                                                                                  \
                     :                                                                                          \
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",   \
                       "xmm11", "xmm12", "xmm13", clobber, "cc");                                               \
    return static_cast<double>(iters) * 12 * (lanes) * 4 * 2;                                                   \
  }

#define SPARQ_DP_ZMM(i) "vpdpbusd %%zmm12, %%zmm13, %%zmm" #i "\n\t"
#define SPARQ_DP_YMM(i) "vpdpbusd %%ymm12, %%ymm13, %%ymm" #i "\n\t"
#define SPARQ_DP_ZMM_ADD(i) SPARQ_DP_ZMM(i) "vpaddd %%zmm12, %%zmm13, %%zmm14\n\t"
SPARQ_INT8_LOOP(peak_loop_int8_avx512vnni, SPARQ_DP_ZMM, "xmm14", 16)
SPARQ_INT8_LOOP(peak_loop_int8_avx512vnni_ymm, SPARQ_DP_YMM, "xmm14", 8)
SPARQ_INT8_LOOP(peak_loop_int8_avx512vnni_add, SPARQ_DP_ZMM_ADD, "xmm14", 16)
#undef SPARQ_DP_ZMM
#undef SPARQ_DP_YMM
#undef SPARQ_DP_ZMM_ADD
#undef SPARQ_INT8_LOOP
#undef SPARQ_12_TIMES

}  // namespace sparq
