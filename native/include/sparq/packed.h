// Packed weights: W[K, N] (ONNX MatMul layout, row-major) converted once into the layout a kernel
// reads, then multiplied many times: y[M, N] = act(x[M, K] · W + bias). Every format ("dense",
// "int8", "sparse", ...) is a PackedWeights subclass registered by name; the binding and the
// executor only see this interface.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sparq/cpu.h"
#include "sparq/epilogue.h"

namespace sparq {

// What the matrices of one session share on an accelerator (sparq::cuda::SessionStream: a CUDA stream
// and its staging buffers). The core never looks inside; a format checks kind() before it uses one.
class DeviceContext {
 public:
  virtual ~DeviceContext() = default;
  virtual const char* kind() const = 0;   // "cuda"
  virtual size_t bytes() const { return 0; }  // memory it holds (staging), host and device
};

// Options a format may read (names as in the JS API); unknown keys are ignored by formats that
// don't use them (JS validates them).
struct PackOptions {
  std::map<std::string, double> numbers;
  std::map<std::string, std::string> strings;
  Isa isa = Isa::scalar;  // set by pack_weights: the level to pack for (active_isa() unless overridden)
  // The session's device context, for device formats; null = the format makes one per matrix.
  std::shared_ptr<DeviceContext> device;

  double number(const std::string& key, double fallback) const {
    auto it = numbers.find(key);
    return it == numbers.end() ? fallback : it->second;
  }
  std::string string(const std::string& key, const std::string& fallback) const {
    auto it = strings.find(key);
    return it == strings.end() ? fallback : it->second;
  }
};

// A fact a handle reports (quantization error, chosen format, block shape, ...).
struct InfoEntry {
  std::string key;
  double number = 0;
  std::string text;
  bool is_text = false;
};

class PackedWeights {
 public:
  PackedWeights(int64_t K, int64_t N, Isa isa) : K_(K), N_(N), isa_(isa) {}
  virtual ~PackedWeights() = default;
  PackedWeights(const PackedWeights&) = delete;
  PackedWeights& operator=(const PackedWeights&) = delete;

  int64_t K() const { return K_; }
  int64_t N() const { return N_; }
  Isa isa() const { return isa_; }

  virtual const char* format() const = 0;
  virtual size_t bytes() const = 0;          // native memory held
  virtual double density() const { return 1.0; }  // stored nonzeros / (K·N)
  virtual void describe(std::vector<InfoEntry>& /*info*/) const {}

  // y[M, N] = act(x[M, K] · W + bias); x and y are contiguous row-major and must not overlap.
  // `threads` <= 0 means the pool's size. Safe to call concurrently from several threads.
  virtual void matmul(const float* x, int64_t M, float* y, const Epilogue& ep, int threads) const = 0;

  // The dense fp32 format's column panels (panel p of `nr` columns at the result + p·K·nr, k-major,
  // zero-padded past N), for kernels that read the weights in place (the direct conv); null for the
  // other formats.
  virtual const float* dense_panels(int64_t* nr) const {
    (void)nr;
    return nullptr;
  }

  // Appends the packed layout as bytes that unpack_weights (sparq/packed_serialize.h) turns back into
  // equal weights; false where the format has no serialiser (callers then keep the fp32 weights).
  virtual bool serialize(std::vector<uint8_t>& out) const {
    (void)out;
    return false;
  }

 private:
  int64_t K_, N_;
  Isa isa_;
};

using PackFn = std::unique_ptr<PackedWeights> (*)(const float* W, int64_t K, int64_t N, const PackOptions& opts);

// Formats register themselves at static-initialisation time (see SPARQ_REGISTER_FORMAT), so adding a
// format is adding a file.
void register_format(const char* name, PackFn fn);
std::vector<std::string> registered_formats();

// Validates K, N and the format name, resolves the ISA ("isa" string option, else active_isa()) and
// packs. Throws sparq::Error.
std::unique_ptr<PackedWeights> pack_weights(const std::string& format, const float* W, int64_t K, int64_t N,
                                            PackOptions opts);

// W given by its nonzeros, column by column (compressed sparse columns): column n holds rows[j] and
// values[j] for j in [col_ptr[n], col_ptr[n+1]), rows strictly increasing. Packing from it costs
// O(nonzeros) in formats with a CSC packer (a pruned model's weights from a .sparq file, no dense
// K·N pass); the others get the densified matrix.
struct CscMatrix {
  const int32_t* col_ptr;  // N + 1 entries, col_ptr[0] = 0
  const int32_t* rows;
  const float* values;
};

using PackCscFn = std::unique_ptr<PackedWeights> (*)(const CscMatrix& W, int64_t K, int64_t N, const PackOptions& opts);

void register_csc_packer(const char* name, PackCscFn fn);

// pack_weights for CSC input: validates K, N, the format and every pointer and row index (untrusted
// bytes from a file: invalid_argument, never a crash), then packs. `nnz` is the length of rows/values.
std::unique_ptr<PackedWeights> pack_weights_csc(const std::string& format, const CscMatrix& W, int64_t nnz, int64_t K,
                                                int64_t N, PackOptions opts);

// W given as little-endian fp32 bytes at any alignment (a weight inside a mapped model file). Formats
// with a bytes packer read them in place, in one pass; the others pack from an aligned copy.
using PackBytesFn = std::unique_ptr<PackedWeights> (*)(const unsigned char* W, int64_t K, int64_t N, const PackOptions& opts);

void register_bytes_packer(const char* name, PackBytesFn fn);

// pack_weights for fp32 bytes (4·K·N of them, which the caller checked).
std::unique_ptr<PackedWeights> pack_weights_bytes(const std::string& format, const unsigned char* W, int64_t K, int64_t N,
                                                  PackOptions opts);

struct BytesPackerRegistrar {
  BytesPackerRegistrar(const char* name, PackBytesFn fn) { register_bytes_packer(name, fn); }
};
#define SPARQ_REGISTER_BYTES_PACKER(ident, name, fn) static ::sparq::BytesPackerRegistrar sparq_bytes_packer_registrar_##ident(name, fn)

struct CscPackerRegistrar {
  CscPackerRegistrar(const char* name, PackCscFn fn) { register_csc_packer(name, fn); }
};
#define SPARQ_REGISTER_CSC_PACKER(ident, name, fn) static ::sparq::CscPackerRegistrar sparq_csc_packer_registrar_##ident(name, fn)

struct FormatRegistrar {
  FormatRegistrar(const char* name, PackFn fn) { register_format(name, fn); }
};
#define SPARQ_REGISTER_FORMAT(ident, name, fn) static ::sparq::FormatRegistrar sparq_format_registrar_##ident(name, fn)

}  // namespace sparq
