// sparq's CUDA backend, as plain C++ (no CUDA header here, so the binding and the tests include it with
// any compiler). Compiled only with -DSPARQ_CUDA=ON (the define SPARQ_WITH_CUDA says it is there).
//
// Conventions shared by every entry point:
//   - All matrix pointers are DEVICE pointers; a Stream is a cudaStream_t (null = the default stream).
//     Calls are asynchronous on that stream; errors of the launch itself throw sparq::Error.
//   - Weights live on the device transposed, W^T[N][K], K contiguous (what the tensor cores' "col"
//     operand wants); activations are x[M][K] row-major; outputs y[M][N] fp32 row-major.
//   - The epilogue is fused: y = act(scale_a[m] · scale_b[n] · acc + bias[n]) (scales only for int8).
//   - Leading dimensions are in elements. int8 operands need 16-byte aligned rows (ld % 16 == 0),
//     fp16 ones ld % 8 == 0: cp.async moves 16-byte chunks. K itself may be anything.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sparq/epilogue.h"
#include "sparq/packed.h"

struct CUstream_st;

namespace sparq::cuda {

using Stream = CUstream_st*;

struct DeviceInfo {
  bool available = false;
  std::string reason;      // why not, when !available (e.g. "cudaErrorNoDevice: no CUDA-capable device is detected")
  int device = -1;
  std::string name;        // "NVIDIA H200"
  int sms = 0;             // multiprocessors
  size_t memory = 0;       // bytes of device memory
  int cc_major = 0, cc_minor = 0;
  int runtime_version = 0, driver_version = 0;  // e.g. 13000
};

// Queried once per process (thread-safe); never throws. Device 0 (CUDA_VISIBLE_DEVICES selects).
const DeviceInfo& device_info();
// Throws sparq::Error("ERR_CUDA_UNAVAILABLE", reason) when there is no usable device.
void require_device();

// Owning device allocation (cudaMalloc), move-only.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return ptr_; }
  template <class T> T* as() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }
  // Synchronous copies (host memory may be pageable); offsets and sizes in bytes.
  void upload(const void* host, size_t bytes, size_t offset = 0);
  void download(void* host, size_t bytes, size_t offset = 0) const;
  void fill_zero();

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

Stream create_stream();
void destroy_stream(Stream s);
void synchronize(Stream s = nullptr);  // waits and throws on an asynchronous kernel error

// ---- dense GEMMs: y[M][N] = epilogue(x[M][K] · W^T[N][K]^T) ----

struct GemmS8Args {
  const int8_t* a = nullptr; int64_t lda = 0;   // x  [M][K] (lda % 16 == 0)
  const int8_t* b = nullptr; int64_t ldb = 0;   // W^T[N][K] (ldb % 16 == 0)
  int64_t M = 0, N = 0, K = 0;
  const float* scale_a = nullptr;               // [M] or null (= 1)
  const float* scale_b = nullptr;               // [N] or null (= 1)
  const float* bias = nullptr;                  // [N] or null
  Activation act = Activation::none;
  float* c = nullptr; int64_t ldc = 0;          // y [M][N]
};
// Tensor cores: mma.sync m16n8k32 s8 (sm_80+), ldmatrix, cp.async multi-stage pipeline.
// On a compute-capability 9.0 GPU, large shapes go to the wgmma kernel instead (sm_90a), once a
// one-time self-test against the mma.sync kernel has passed (SPARQ_CUDA_WGMMA=0 disables it).
void gemm_s8(const GemmS8Args& p, Stream s = nullptr);
// One kernel by name, for tests and benchmarks: mma.sync (any sm_80+), or wgmma (throws
// ERR_CUDA_UNAVAILABLE off sm_90). gemm_s8_wgmma_enabled(): whether gemm_s8 uses wgmma here.
void gemm_s8_mma(const GemmS8Args& p, Stream s = nullptr);
void gemm_s8_wgmma(const GemmS8Args& p, Stream s = nullptr);
bool gemm_s8_wgmma_enabled();

struct GemmF16Args {
  const uint16_t* a = nullptr; int64_t lda = 0;  // x  [M][K] fp16 bits (lda % 8 == 0)
  const uint16_t* b = nullptr; int64_t ldb = 0;  // W^T[N][K] fp16 bits (ldb % 8 == 0)
  int64_t M = 0, N = 0, K = 0;
  const float* bias = nullptr;
  Activation act = Activation::none;
  float* c = nullptr; int64_t ldc = 0;
};
// Tensor cores: mma.sync m16n8k16 f16 with fp32 accumulators; a small-M tile for decode shapes.
void gemm_f16(const GemmF16Args& p, Stream s = nullptr);

struct GemmF32Args {
  const float* a = nullptr; int64_t lda = 0;    // x  [M][K]
  const float* b = nullptr; int64_t ldb = 0;    // W^T[N][K]
  int64_t M = 0, N = 0, K = 0;
  const float* bias = nullptr;
  Activation act = Activation::none;
  float* c = nullptr; int64_t ldc = 0;
};
// CUDA cores, exact fp32 (the fallback for weights kept in fp32). No alignment requirement.
void gemm_f32(const GemmF32Args& p, Stream s = nullptr);

// ---- 2:4 structured sparse int8 (mma.sp m16n8k64) ----

// Host-side packing of W^T[N][K] int8 whose every group of 4 consecutive k holds at most 2 nonzeros.
// K is padded to a multiple of 64, N to 16. `meta` is in the per-lane register order mma.sp reads,
// for the metadata lane layout `layout` (see sparse24_meta_layout()).
struct Sparse24Host {
  int64_t N = 0, K = 0, Kpad = 0, Npad = 0;
  std::vector<int8_t> values;   // [Npad][Kpad/2]
  std::vector<uint32_t> meta;   // [Npad/16][Kpad/64][32 lanes]
};
Sparse24Host pack_2to4_s8(const int8_t* wt, int64_t N, int64_t K, int layout);
// Inverse (for tests): the dense W^T[N][K] the packed form represents.
std::vector<int8_t> unpack_2to4_s8(const Sparse24Host& h, int layout);
// Keeps the 2 largest |w| of every 4 consecutive k (ties: lower k): makes any W^T 2:4.
void prune_2to4_s8(int8_t* wt, int64_t N, int64_t K);
constexpr int kSparse24Layouts = 5;  // candidate metadata lane layouts (see sparse24.cu)
// The metadata lane layout this device's mma.sp uses, found once by a one-warp probe against the CPU
// (the PTX manual gives it only as figures); -1 if no candidate matched (2:4 then throws).
int sparse24_meta_layout();

struct Sparse24S8 {
  DeviceBuffer values, meta;
  int64_t N = 0, K = 0, Kpad = 0, Npad = 0;
  size_t bytes() const { return values.bytes() + meta.bytes(); }
};
Sparse24S8 upload_2to4_s8(const int8_t* wt, int64_t N, int64_t K);  // throws if W^T is not 2:4

struct Gemm2to4Args {
  const Sparse24S8* w = nullptr;
  const int8_t* x = nullptr; int64_t ldx = 0;  // [M][K] (ldx % 16 == 0, ldx >= Kpad not needed)
  int64_t M = 0;
  const float* scale_x = nullptr;              // [M] or null
  const float* scale_w = nullptr;              // [N] or null
  const float* bias = nullptr;
  Activation act = Activation::none;
  float* y = nullptr; int64_t ldy = 0;
};
void gemm_2to4_s8(const Gemm2to4Args& p, Stream s = nullptr);

// ---- unstructured / block sparse fp16 SpMM (CUDA cores, Sputnik-style) ----

// W^T rows in CSR with u16 column indices (K <= 65536 · block); `block` consecutive k share one index
// (1 = unstructured, 4 = 1x4 blocks along K). Rows are processed in order of decreasing length
// (`order`), so warps that run together carry similar work.
struct SparseF16Host {
  int64_t N = 0, K = 0, nnz_blocks = 0;
  int block = 1;
  std::vector<int32_t> row_ptr;   // [N+1], in blocks
  std::vector<uint16_t> cols;     // [nnz_blocks]: k / block
  std::vector<uint16_t> values;   // [nnz_blocks · block] fp16 bits
  std::vector<int32_t> order;     // [N] rows by decreasing nnz
};
SparseF16Host pack_sparse_f16(const float* wt, int64_t N, int64_t K, int block);

struct SparseF16 {
  DeviceBuffer row_ptr, cols, values, order;
  int64_t N = 0, K = 0, nnz_blocks = 0;
  int block = 1;
  size_t bytes() const { return row_ptr.bytes() + cols.bytes() + values.bytes() + order.bytes(); }
};
SparseF16 upload_sparse_f16(const float* wt, int64_t N, int64_t K, int block);

struct SpmmF16Args {
  const SparseF16* w = nullptr;
  const uint16_t* x = nullptr; int64_t ldx = 0;  // [M][K] fp16 bits
  int64_t M = 0;
  const float* bias = nullptr;
  Activation act = Activation::none;
  float* y = nullptr; int64_t ldy = 0;
};
// Transposes x into a stream-ordered scratch (cudaMallocAsync), then one warp per output row.
void spmm_f16(const SpmmF16Args& p, Stream s = nullptr);

// ---- a weight matrix resident on the device: what the runtime uses for device: 'cuda' ----

// Page-locked host memory (cudaMallocHost): the staging area that lets copies run asynchronously.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t bytes);
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& o) noexcept;
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  void* data() const { return ptr_; }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// What a matmul stages activations through, grown on demand and kept for the next call: page-locked
// host copies of x (followed by the bias) and of y, so the copies run asynchronously on the stream, and
// device scratch for x, its fp16/int8 conversion, the int8 row scales and y.
struct Staging {
  PinnedBuffer in, out;
  DeviceBuffer x, xq, scale_x, y;
  size_t bytes() const { return in.bytes() + out.bytes() + x.bytes() + xq.bytes() + scale_x.bytes() + y.bytes(); }
};

enum class DeviceFormat {
  f32,         // exact fp32, CUDA cores
  f16,         // fp16 weights and activations, tensor cores, fp32 accumulation
  int8,        // int8 weights (per-column scale) x int8 activations (dynamic per-row scale), tensor cores
  sparse_f16,  // unstructured sparse fp16 (CSR), CUDA cores
  block_f16,   // 1x4-block sparse fp16
  int8_2to4,   // 2:4 int8 on sparse tensor cores (W must already be 2:4 along K for every column)
};
const char* device_format_name(DeviceFormat f);
// "f32", "f16", "int8", "sparse", "block", "2:4"; throws ERR_INVALID_ARGUMENT otherwise.
DeviceFormat device_format_from_name(const std::string& name);

// The format "cuda-auto" picks for W[K][N] (host only, no device needed):
//   int8 weights (quantize()d): 2:4 sparse tensor cores when every column is 2:4 along K and
//     `allow_2to4` (the device's mma.sp metadata layout is known); else sparse fp16 from 90% zeros
//     (4 bytes per nonzero beats 1 byte per weight only there); else dense int8 tensor cores.
//   fp32 weights: fp16 tensor cores, or sparse fp16 from 70% zeros (1x4 blocks along K when the
//     nonzeros fill at least 3/4 of their blocks). fp32 2:4 weights stay on dense fp16: the only 2:4
//     kernel is int8, and quantizing is quantize()'s decision, not the runtime's.
// Thresholds are first guesses until bench_cuda measures the crossovers on a GPU.
constexpr double kSparseF16MaxDensity = 0.30;
constexpr double kSparseInt8MaxDensity = 0.10;
DeviceFormat choose_device_format(const float* W, int64_t K, int64_t N, bool int8, bool allow_2to4);

// W[K][N] (ONNX MatMul layout, host, row-major) packed and uploaded once, with its bias.
// matmul(): y[M][N] = act(x[M][K] · W + bias) for host fp32 x and y, through a Staging (the caller's,
// or one of its own), all on the given stream. Not safe for concurrent calls sharing a Staging.
class DeviceWeights {
 public:
  DeviceWeights(DeviceFormat format, const float* W, int64_t K, int64_t N, const float* bias);
  // `bias` (host, N values) replaces the bias given at construction for this call when not null; it is
  // staged with x (one host-to-device copy).
  void matmul(const float* x, int64_t M, float* y, Activation act, Stream s, Staging& staging, const float* bias);
  // The same through this matrix's own staging.
  void matmul(const float* x, int64_t M, float* y, Activation act, Stream s = nullptr, const float* bias = nullptr) {
    matmul(x, M, y, act, s, staging_, bias);
  }
  DeviceFormat format() const { return format_; }
  int64_t K() const { return K_; }
  int64_t N() const { return N_; }
  size_t bytes() const;  // device memory held by the weights (not the staging)

 private:
  DeviceFormat format_;
  int64_t K_, N_;
  int64_t ldw_ = 0;
  DeviceBuffer w_, scale_w_, bias_;
  Sparse24S8 w24_;
  SparseF16 sparse_;
  Staging staging_;
};

// One session's place on the device (InferenceSession.create(model, { device: 'cuda' }) makes one and
// passes it to every matrix it packs, through PackOptions::device): a stream of its own, created
// non-blocking so it never synchronises with the legacy default stream (nor other sessions), and one
// Staging that all the session's matrices share and reuse from run to run. Matmuls through it are
// serialised: a run's linear layers execute one after another anyway, and concurrent runs of a
// session take turns per layer.
class SessionStream final : public DeviceContext {
 public:
  SessionStream();  // throws ERR_CUDA_UNAVAILABLE without a device
  ~SessionStream() override;
  SessionStream(const SessionStream&) = delete;
  SessionStream& operator=(const SessionStream&) = delete;
  const char* kind() const override { return "cuda"; }
  size_t bytes() const override;
  Stream stream() const { return stream_; }
  void matmul(DeviceWeights& w, const float* x, int64_t M, float* y, Activation act, const float* bias);

 private:
  mutable std::mutex mutex_;
  Stream stream_ = nullptr;
  Staging staging_;
};

// Registers the formats "cuda-f32", "cuda-f16", "cuda-int8", "cuda-sparse", "cuda-block", "cuda-2:4"
// and "cuda-auto" (choose_device_format; option int8 = 1 for quantized weights; the handle then
// reports the format it chose) with the packed-weights registry (sparq/packed.h), so kernels.pack()
// and the runtime use the GPU through the same interface as the CPU formats: DeviceWeights behind a
// PackedWeights, running on PackOptions::device's SessionStream (a "cuda" one) or, without one, on a
// SessionStream of the matrix's own. Does nothing (returns false) without a device.
bool register_formats();

// fp32 <-> fp16 (round to nearest even) on the host, for packing and tests.
uint16_t float_to_half(float f);
float half_to_float(uint16_t h);

}  // namespace sparq::cuda
