// Packed weights as bytes and back, so a model file (.sparq) can carry weights already in a kernel's
// layout and a session can start without re-packing. A format opts in by overriding
// PackedWeights::serialize and listing its unpacker in native/runtime/packed_serialize.cpp (an explicit
// table, not a static registrar: the core is linked as a static library in some builds, and a TU that
// nothing references would be dropped with its registrar).
// The bytes are specific to the format, its version and the ISA it was packed for: unpacking checks
// all three and validates every index, so bytes from a damaged or hostile file throw sparq::Error
// (ERR_INVALID_MODEL) instead of being trusted; a caller on another ISA re-packs from the weights.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sparq/cpu.h"
#include "sparq/packed.h"

namespace sparq {

using UnpackFn = std::unique_ptr<PackedWeights> (*)(const uint8_t* bytes, size_t size, int64_t K, int64_t N, Isa isa);

std::vector<std::string> unpackable_formats();

// Rebuilds packed weights of `format` from serialize()'s bytes for the active ISA. Throws sparq::Error:
// ERR_INVALID_MODEL for bytes that are damaged, of another version or packed for another ISA (the
// message says which), invalid_argument for an unknown format or bad K, N.
std::unique_ptr<PackedWeights> unpack_weights(const std::string& format, const uint8_t* bytes, size_t size, int64_t K, int64_t N);

// Little-endian byte writer / bounds-checked reader shared by the formats' serialisers.
class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>& out) : out_(out) {}
  template <typename T>
  void put(const T& v) { put_bytes(&v, sizeof(T)); }
  void put_bytes(const void* p, size_t n);
  void align(size_t a);

 private:
  std::vector<uint8_t>& out_;
};

class ByteReader {
 public:
  ByteReader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  template <typename T>
  T get() {
    T v;
    get_bytes(&v, sizeof(T));
    return v;
  }
  void get_bytes(void* dst, size_t n);
  void align(size_t a);
  size_t left() const { return n_ - at_; }

 private:
  const uint8_t* p_;
  size_t n_, at_ = 0;
};

// ERR_INVALID_MODEL with the house wording.
[[noreturn]] void invalid_packed(const std::string& format, const std::string& why);

// Reads a format's u32 signature and u32 layout version, refusing others (ERR_INVALID_MODEL).
void read_signature(ByteReader& r, const std::string& format, uint32_t magic, uint32_t version);

}  // namespace sparq
