#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
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

namespace {

std::vector<std::pair<std::string, PackCscFn>>& csc_registry() {
  static std::vector<std::pair<std::string, PackCscFn>> formats;
  return formats;
}

// 2^31 bounds every index the kernels compute in 32 bits and any allocation a caller could ask for.
void check_dims(int64_t K, int64_t N) {
  constexpr int64_t kMaxDim = int64_t(1) << 31;
  if (K < 1 || K >= kMaxDim) throw invalid_argument("Expected an integer in [1, 2^31) for K but received " + std::to_string(K));
  if (N < 1 || N >= kMaxDim) throw invalid_argument("Expected an integer in [1, 2^31) for N but received " + std::to_string(N));
  if (K * N > (int64_t(1) << 34)) throw invalid_argument("Expected K·N <= 2^34 for the weights but received " + std::to_string(K * N));
}

// The ISA to pack for: the "isa" string option, else active_isa().
void resolve_isa(PackOptions& opts) {
  const std::string isa_option = opts.string("isa", "");
  if (isa_option.empty()) {
    opts.isa = active_isa();
    return;
  }
  Isa isa;
  if (!parse_isa(isa_option, &isa))
    throw invalid_argument("Expected one of scalar, avx2, avx512 for options.isa but received '" + isa_option + "'");
  if (!isa_supported(isa)) throw Error("ERR_ISA_UNSUPPORTED", "options.isa=" + isa_option + " is not supported by this CPU");
  opts.isa = isa;
}

}  // namespace

void register_csc_packer(const char* name, PackCscFn fn) { csc_registry().emplace_back(name, fn); }

std::unique_ptr<PackedWeights> pack_weights(const std::string& format, const float* W, int64_t K, int64_t N,
                                            PackOptions opts) {
  check_dims(K, N);
  if (!W) throw invalid_argument("Expected a Float32Array of K·N values for W but received null");
  resolve_isa(opts);
  for (auto& entry : registry())
    if (entry.first == format) return entry.second(W, K, N, opts);

  std::string known;
  for (auto& entry : registry()) known += (known.empty() ? "" : ", ") + entry.first;
  throw invalid_argument("Expected one of " + known + " for options.format but received '" + format + "'");
}

namespace {

std::vector<std::pair<std::string, PackBytesFn>>& bytes_registry() {
  static std::vector<std::pair<std::string, PackBytesFn>> formats;
  return formats;
}

}  // namespace

void register_bytes_packer(const char* name, PackBytesFn fn) { bytes_registry().emplace_back(name, fn); }

std::unique_ptr<PackedWeights> pack_weights_bytes(const std::string& format, const unsigned char* W, int64_t K, int64_t N,
                                                  PackOptions opts) {
  check_dims(K, N);
  if (!W) throw invalid_argument("Expected 4·K·N bytes for W but received null");
  if (reinterpret_cast<uintptr_t>(W) % alignof(float) == 0) return pack_weights(format, reinterpret_cast<const float*>(W), K, N, std::move(opts));
  for (auto& entry : bytes_registry())
    if (entry.first == format) {
      resolve_isa(opts);
      return entry.second(W, K, N, opts);
    }
  // No bytes packer: an aligned copy (not zero-filled first: every value is written).
  std::unique_ptr<float[]> aligned(new float[static_cast<size_t>(K * N)]);
  std::memcpy(aligned.get(), W, static_cast<size_t>(K * N) * sizeof(float));
  return pack_weights(format, aligned.get(), K, N, std::move(opts));
}

std::unique_ptr<PackedWeights> pack_weights_csc(const std::string& format, const CscMatrix& W, int64_t nnz, int64_t K,
                                                int64_t N, PackOptions opts) {
  check_dims(K, N);
  if (!W.col_ptr || (nnz > 0 && (!W.rows || !W.values))) throw invalid_argument("Expected CSC arrays but received null");
  if (nnz < 0 || nnz > K * N) throw invalid_argument("Expected at most K·N nonzeros but received " + std::to_string(nnz));
  if (W.col_ptr[0] != 0 || W.col_ptr[N] != nnz) throw invalid_argument("Expected column pointers from 0 to the nonzero count");
  for (int64_t n = 0; n < N; ++n) {
    if (W.col_ptr[n + 1] < W.col_ptr[n]) throw invalid_argument("Expected non-decreasing column pointers");
    for (int32_t j = W.col_ptr[n]; j < W.col_ptr[n + 1]; ++j)
      if (W.rows[j] < 0 || W.rows[j] >= K || (j > W.col_ptr[n] && W.rows[j] <= W.rows[j - 1]))
        throw invalid_argument("Expected increasing row indices in [0, K) in every column");
  }
  for (auto& entry : csc_registry())
    if (entry.first == format) {
      resolve_isa(opts);
      return entry.second(W, K, N, opts);
    }
  // No CSC packer: the dense matrix, through the ordinary path.
  std::vector<float> dense(static_cast<size_t>(K * N), 0.0f);
  for (int64_t n = 0; n < N; ++n)
    for (int32_t j = W.col_ptr[n]; j < W.col_ptr[n + 1]; ++j) dense[static_cast<size_t>(W.rows[j] * N + n)] = W.values[j];
  return pack_weights(format, dense.data(), K, N, std::move(opts));
}

}  // namespace sparq
