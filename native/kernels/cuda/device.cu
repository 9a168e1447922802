// Device query, device buffers and streams: the part of the CUDA backend every kernel relies on.
// The runtime is linked statically and loads the driver at the first call, so on a machine without a
// GPU or driver device_info() reports why instead of failing to load.
#include <mutex>

#include "cuda_check.h"
#include "sparq/cuda.h"

namespace sparq::cuda {

const DeviceInfo& device_info() {
  static DeviceInfo info;
  static std::once_flag once;
  std::call_once(once, [] {
    cudaRuntimeGetVersion(&info.runtime_version);
    cudaError_t e = cudaDriverGetVersion(&info.driver_version);
    int count = 0;
    e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
      cudaGetLastError();
      info.reason = detail::describe_error(e);
      if (e == cudaErrorInsufficientDriver && info.driver_version == 0) info.reason += " (no NVIDIA driver is installed)";
      return;
    }
    if (count == 0) {
      info.reason = "no CUDA device is visible (cudaGetDeviceCount returned 0)";
      return;
    }
    cudaDeviceProp prop{};
    e = cudaGetDeviceProperties(&prop, 0);
    if (e != cudaSuccess) {
      cudaGetLastError();
      info.reason = detail::describe_error(e);
      return;
    }
    if (prop.major < 8) {
      info.reason = std::string(prop.name) + " has compute capability " + std::to_string(prop.major) + "." +
                    std::to_string(prop.minor) + "; sparq's CUDA kernels need 8.0 or newer";
      return;
    }
    info.device = 0;
    info.name = prop.name;
    info.sms = prop.multiProcessorCount;
    info.memory = prop.totalGlobalMem;
    info.cc_major = prop.major;
    info.cc_minor = prop.minor;
    info.available = true;
  });
  return info;
}

void require_device() {
  const DeviceInfo& d = device_info();
  if (!d.available) throw Error("ERR_CUDA_UNAVAILABLE", "CUDA is not available: " + d.reason);
}

DeviceBuffer::DeviceBuffer(size_t bytes) {
  require_device();
  if (bytes == 0) return;
  SPARQ_CUDA_CHECK(cudaMalloc(&ptr_, bytes));
  bytes_ = bytes;
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cudaFree(ptr_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) {
  o.ptr_ = nullptr;
  o.bytes_ = 0;
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_) cudaFree(ptr_);
    ptr_ = o.ptr_;
    bytes_ = o.bytes_;
    o.ptr_ = nullptr;
    o.bytes_ = 0;
  }
  return *this;
}

static void check_range(size_t offset, size_t bytes, size_t size) {
  if (offset > size || bytes > size - offset)
    throw invalid_argument("device buffer copy of " + std::to_string(bytes) + " bytes at offset " +
                           std::to_string(offset) + " exceeds its " + std::to_string(size) + " bytes");
}

void DeviceBuffer::upload(const void* host, size_t bytes, size_t offset) {
  check_range(offset, bytes, bytes_);
  if (bytes) SPARQ_CUDA_CHECK(cudaMemcpy(static_cast<char*>(ptr_) + offset, host, bytes, cudaMemcpyHostToDevice));
}

void DeviceBuffer::download(void* host, size_t bytes, size_t offset) const {
  check_range(offset, bytes, bytes_);
  if (bytes) SPARQ_CUDA_CHECK(cudaMemcpy(host, static_cast<const char*>(ptr_) + offset, bytes, cudaMemcpyDeviceToHost));
}

void DeviceBuffer::fill_zero() {
  if (bytes_) SPARQ_CUDA_CHECK(cudaMemset(ptr_, 0, bytes_));
}

Stream create_stream() {
  require_device();
  cudaStream_t s = nullptr;
  SPARQ_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return s;
}

void destroy_stream(Stream s) {
  if (s) cudaStreamDestroy(s);
}

void synchronize(Stream s) { SPARQ_CUDA_CHECK(cudaStreamSynchronize(s)); }

}  // namespace sparq::cuda
