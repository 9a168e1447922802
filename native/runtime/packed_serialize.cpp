// Registry of unpackers (packed bytes → PackedWeights) and the byte reader/writer they share.
#include "sparq/packed_serialize.h"

#include <cstring>
#include <utility>

#include "sparq/error.h"

namespace sparq {

// Every format's unpacker, by the file that defines it. Listed here, not registered by static objects in
// those files: referencing them links them whatever the build does with unreferenced objects.
std::unique_ptr<PackedWeights> unpack_sparse(const uint8_t*, size_t, int64_t, int64_t, Isa);       // sparse_f32.cpp
std::unique_ptr<PackedWeights> unpack_block(const uint8_t*, size_t, int64_t, int64_t, Isa);
std::unique_ptr<PackedWeights> unpack_sparse_int8(const uint8_t*, size_t, int64_t, int64_t, Isa);  // sparse_int8.cpp
std::unique_ptr<PackedWeights> unpack_int4(const uint8_t*, size_t, int64_t, int64_t, Isa);         // weight_only.cpp
std::unique_ptr<PackedWeights> unpack_int8_wo(const uint8_t*, size_t, int64_t, int64_t, Isa);
std::unique_ptr<PackedWeights> unpack_int8(const uint8_t*, size_t, int64_t, int64_t, Isa);         // int8_f32.cpp
std::unique_ptr<PackedWeights> unpack_sparse_24(const uint8_t*, size_t, int64_t, int64_t, Isa);    // sparse_24.cpp

namespace {

const std::vector<std::pair<std::string, UnpackFn>>& unpackers() {
  static const std::vector<std::pair<std::string, UnpackFn>> list = {
      {"sparse", unpack_sparse}, {"block", unpack_block}, {"sparse-int8", unpack_sparse_int8}, {"int4", unpack_int4},
      {"int8-wo", unpack_int8_wo}, {"int8", unpack_int8}, {"2:4", unpack_sparse_24}};
  return list;
}

}  // namespace

std::vector<std::string> unpackable_formats() {
  std::vector<std::string> names;
  for (auto& e : unpackers()) names.push_back(e.first);
  return names;
}

void invalid_packed(const std::string& format, const std::string& why) {
  throw Error("ERR_INVALID_MODEL", "Expected valid packed weights of format '" + format + "' but " + why);
}

std::unique_ptr<PackedWeights> unpack_weights(const std::string& format, const uint8_t* bytes, size_t size, int64_t K, int64_t N) {
  constexpr int64_t kMaxDim = int64_t(1) << 31;
  if (K < 1 || K >= kMaxDim) throw invalid_argument("Expected an integer in [1, 2^31) for K but received " + std::to_string(K));
  if (N < 1 || N >= kMaxDim) throw invalid_argument("Expected an integer in [1, 2^31) for N but received " + std::to_string(N));
  if (!bytes && size) throw invalid_argument("Expected packed bytes but received null");
  for (auto& e : unpackers())
    if (e.first == format) return e.second(bytes, size, K, N, active_isa());
  throw invalid_argument("Expected a format with an unpacker (" + [] {
    std::string s;
    for (auto& n : unpackable_formats()) s += (s.empty() ? "" : ", ") + n;
    return s;
  }() + ") for format but received '" + format + "'");
}

void read_signature(ByteReader& r, const std::string& format, uint32_t magic, uint32_t version) {
  if (r.get<uint32_t>() != magic) invalid_packed(format, "its bytes do not start with the format's signature");
  const uint32_t got = r.get<uint32_t>();
  if (got != version) invalid_packed(format, "they are of version " + std::to_string(got) + ", not " + std::to_string(version));
}

void ByteWriter::put_bytes(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  out_.insert(out_.end(), b, b + n);
}

void ByteWriter::align(size_t a) {
  while (out_.size() % a) out_.push_back(0);
}

void ByteReader::get_bytes(void* dst, size_t n) {
  if (n > n_ - at_) throw Error("ERR_INVALID_MODEL", "Expected more packed bytes but the data ends early (truncated)");
  std::memcpy(dst, p_ + at_, n);
  at_ += n;
}

void ByteReader::align(size_t a) {
  const size_t pad = (a - at_ % a) % a;
  if (pad > n_ - at_) throw Error("ERR_INVALID_MODEL", "Expected more packed bytes but the data ends early (truncated)");
  at_ += pad;
}

}  // namespace sparq
