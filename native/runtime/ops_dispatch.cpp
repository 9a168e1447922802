// Chooses the op kernel table for an ISA level (ops_kernels.h). AVX-512 has its own table; AVX2 and
// scalar use the portable one (compiled with -O3, which auto-vectorises the simple loops).
#include "sparq/ops_kernels.h"

namespace sparq {

const OpsKernels& ops_kernels(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  if (isa == Isa::avx512) return kOpsAvx512;
#else
  (void)isa;
#endif
  return kOpsScalar;
}

}  // namespace sparq
