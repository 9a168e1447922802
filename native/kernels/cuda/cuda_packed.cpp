// The CUDA formats as PackedWeights ("cuda-int8", ...): DeviceWeights behind the interface every CPU
// format implements, so kernels.pack()/matmul() and the runtime reach the GPU the same way. Each packed
// matrix owns a stream and its staging buffers; concurrent calls on one matrix are serialised.
#include <memory>
#include <mutex>
#include <string>

#include "sparq/cuda.h"
#include "sparq/packed.h"

namespace sparq::cuda {
namespace {

class CudaPacked final : public PackedWeights {
 public:
  CudaPacked(DeviceFormat f, const float* W, int64_t K, int64_t N)
      : PackedWeights(K, N, Isa::scalar), name_(std::string("cuda-") + device_format_name(f)), dw_(f, W, K, N, nullptr) {
    int64_t nz = 0;
    for (int64_t i = 0; i < K * N; ++i) nz += W[i] != 0.0f;
    density_ = static_cast<double>(nz) / static_cast<double>(K * N);
    stream_ = create_stream();
  }
  ~CudaPacked() override { destroy_stream(stream_); }

  const char* format() const override { return name_.c_str(); }
  size_t bytes() const override { return dw_.bytes(); }
  double density() const override { return density_; }
  void describe(std::vector<InfoEntry>& info) const override {
    const DeviceInfo& d = device_info();
    info.push_back({"device", 0, d.name, true});
    if (dw_.format() == DeviceFormat::int8)
      info.push_back({"kernel", 0, gemm_s8_wgmma_enabled() ? "wgmma (sm_90a) / mma.sync" : "mma.sync m16n8k32", true});
  }
  void matmul(const float* x, int64_t M, float* y, const Epilogue& ep, int /*threads*/) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    dw_.matmul(x, M, y, ep.act, stream_, ep.bias);
  }

 private:
  std::string name_;
  mutable std::mutex mutex_;
  mutable DeviceWeights dw_;
  double density_ = 1.0;
  Stream stream_ = nullptr;
};

template <DeviceFormat F>
std::unique_ptr<PackedWeights> pack(const float* W, int64_t K, int64_t N, const PackOptions& /*opts*/) {
  return std::make_unique<CudaPacked>(F, W, K, N);
}

}  // namespace

bool register_formats() {
  if (!device_info().available) return false;
  static std::once_flag once;
  std::call_once(once, [] {
    register_format("cuda-f32", pack<DeviceFormat::f32>);
    register_format("cuda-f16", pack<DeviceFormat::f16>);
    register_format("cuda-int8", pack<DeviceFormat::int8>);
    register_format("cuda-sparse", pack<DeviceFormat::sparse_f16>);
    register_format("cuda-block", pack<DeviceFormat::block_f16>);
    register_format("cuda-2:4", pack<DeviceFormat::int8_2to4>);
  });
  return true;
}

}  // namespace sparq::cuda
