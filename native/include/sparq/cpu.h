// CPU feature detection and the instruction-set level kernels dispatch on. Detected once; the
// active level can be forced with SPARQ_ISA=scalar|avx2|avx512 (an error if the CPU lacks it).
#pragma once
#include <string>
#include <vector>

namespace sparq {

// Ordered: each level implies the ones below it.
enum class Isa : int { scalar = 0, avx2 = 1, avx512 = 2 };

struct CpuFeatures {
  bool avx2 = false, fma = false, avxvnni = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512vnni = false, avx512bf16 = false;
  bool avx512vbmi = false;   // vpermi2b/vpermb (the sparse-int8 AVX-512 kernel needs it)
  bool avx512vbmi2 = false;  // vpcompressb (the sparse-int8 unpacker's fast path)
  bool bmi2 = false;         // pdep
  bool pclmul = false;       // carry-less multiply (the CRC-32 of .sparq files)
};

const CpuFeatures& cpu_features();
// The per-core L2 size in bytes (what blocked drivers size their L2-resident blocks by); 1 MiB when
// the OS doesn't say. Clamped to [256 KiB, 4 MiB].
long l2_cache_bytes();
bool isa_supported(Isa isa);
std::vector<Isa> available_isas();  // every level this CPU supports, lowest first
const char* isa_name(Isa isa);
bool parse_isa(const std::string& name, Isa* out);

// The level kernels use: the best supported one, or SPARQ_ISA when set. Throws sparq::Error
// (ERR_ISA_UNSUPPORTED / ERR_INVALID_ARGUMENT) on first use if SPARQ_ISA names a level this CPU lacks.
Isa active_isa();
// Human-readable name of the active level including extensions, e.g. "avx512-vnni".
std::string active_isa_label();

}  // namespace sparq
