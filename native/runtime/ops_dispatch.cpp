// Chooses the op kernel table for an ISA level (ops_kernels.h): AVX-512 and AVX2 have their own
// tables (the AVX2 one falls back to scalar for the quantizer); scalar is the portable reference.
#include "sparq/ops_kernels.h"

namespace sparq {

const OpsKernels& ops_kernels(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  if (isa == Isa::avx512) return kOpsAvx512;
  if (isa == Isa::avx2) return kOpsAvx2;
#else
  (void)isa;
#endif
  return kOpsScalar;
}

}  // namespace sparq
