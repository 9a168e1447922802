#include <cmath>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "sparq/error.h"
#include "sparq/packed.h"

namespace sparq {
namespace {

std::vector<std::pair<std::string, PackFn>>& registry() {
  static std::vector<std::pair<std::string, PackFn>> formats;
  return formats;
}

}  // namespace

void register_format(const char* name, PackFn fn) { registry().emplace_back(name, fn); }

std::vector<std::string> registered_formats() {
  std::vector<std::string> names;
  for (auto& entry : registry()) names.push_back(entry.first);
  return names;
}

std::unique_ptr<PackedWeights> pack_weights(const std::string& format, const float* W, int64_t K, int64_t N,
                                            PackOptions opts) {
  // 2^31 bounds every index the kernels compute in 32 bits and any allocation a caller could ask for.
  constexpr int64_t kMaxDim = int64_t(1) << 31;
  if (K < 1 || K >= kMaxDim) throw invalid_argument("Expected an integer in [1, 2^31) for K but received " + std::to_string(K));
  if (N < 1 || N >= kMaxDim) throw invalid_argument("Expected an integer in [1, 2^31) for N but received " + std::to_string(N));
  if (K * N > (int64_t(1) << 34)) throw invalid_argument("Expected K·N <= 2^34 for the weights but received " + std::to_string(K * N));
  if (!W) throw invalid_argument("Expected a Float32Array of K·N values for W but received null");

  const std::string isa_option = opts.string("isa", "");
  if (isa_option.empty()) {
    opts.isa = active_isa();
  } else {
    Isa isa;
    if (!parse_isa(isa_option, &isa))
      throw invalid_argument("Expected one of scalar, avx2, avx512 for options.isa but received '" + isa_option + "'");
    if (!isa_supported(isa)) throw Error("ERR_ISA_UNSUPPORTED", "options.isa=" + isa_option + " is not supported by this CPU");
    opts.isa = isa;
  }

  for (auto& entry : registry())
    if (entry.first == format) return entry.second(W, K, N, opts);

  std::string known;
  for (auto& entry : registry()) known += (known.empty() ? "" : ", ") + entry.first;
  throw invalid_argument("Expected one of " + known + " for options.format but received '" + format + "'");
}

}  // namespace sparq
