// Microbenchmarks of the machine's arithmetic ceilings, so benchmarks can report "% of peak".
#pragma once

namespace sparq {

// int8_vnni_ymm and int8_vnni_add are diagnostics of that ceiling (see kernels/x86/peak_avx512_vnni.cpp).
enum class PeakKind { fp32_fma, int8_vnni, int8_vnni_ymm, int8_vnni_add };

// Giga-operations per second on the calling thread (an FMA or a u8·s8 MAC counts 2), measured over
// ~`millis` ms with enough independent chains to cover latency. 0 when the ISA lacks the instruction.
double measure_peak_gops(PeakKind kind, double millis);

// Per-ISA loops (kernels/x86/peak_*.cpp): run `iters` iterations, return the ops done.
double peak_loop_fp32_avx512(long iters);
double peak_loop_int8_avx512vnni(long iters);
double peak_loop_int8_avx512vnni_ymm(long iters);
double peak_loop_int8_avx512vnni_add(long iters);

}  // namespace sparq
