// Denormal floats flushed to zero for a scope (MXCSR's FTZ and DAZ bits on x86, restored on exit):
// AMD Zen cores take a microcode assist on FMAs with denormal operands, and feature maps that decay
// towards zero are full of them (PaddleOCR's detector: its 80x80 3x3 convs ran 2x slower on its own
// activations than on random ones). Values below 1.2e-38 become 0, far below any tolerance a model's
// outputs are compared at. The convs set it per block of work on the thread that runs the block.
#pragma once

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace sparq {

class FlushDenormals {
 public:
#if defined(__x86_64__) || defined(__i386__)
  FlushDenormals() : saved_(_mm_getcsr()) {
    if ((saved_ & kBits) != kBits) _mm_setcsr(saved_ | kBits);
  }
  ~FlushDenormals() {
    if ((saved_ & kBits) != kBits) _mm_setcsr(saved_);
  }

 private:
  static constexpr unsigned kBits = 0x8040;  // FTZ (bit 15) | DAZ (bit 6)
  unsigned saved_;
#else
  FlushDenormals() = default;
#endif
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;
};

}  // namespace sparq
