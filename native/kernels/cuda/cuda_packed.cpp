// The CUDA formats as PackedWeights ("cuda-int8", ..., "cuda-auto"): DeviceWeights behind the interface
// every CPU format implements, so kernels.pack()/matmul() and the runtime reach the GPU the same way.
// A matrix runs on the SessionStream its session passed in PackOptions::device (one stream and one
// staging per session), or on one of its own (kernels.pack()); calls through a SessionStream are serialised.
#include <memory>
#include <string>

#include "sparq/cuda.h"
#include "sparq/error.h"
#include "sparq/packed.h"

namespace sparq::cuda {
namespace {

std::shared_ptr<SessionStream> session_of(const PackOptions& opts) {
  if (!opts.device) return std::make_shared<SessionStream>();
  if (std::string(opts.device->kind()) != "cuda")
    throw invalid_argument(std::string("Expected a CUDA device context for a cuda-* format but received a '") +
                           opts.device->kind() + "' one");
  return std::static_pointer_cast<SessionStream>(opts.device);
}

class CudaPacked final : public PackedWeights {
 public:
  CudaPacked(DeviceFormat f, const float* W, int64_t K, int64_t N, std::shared_ptr<SessionStream> session)
      : PackedWeights(K, N, Isa::scalar), name_(std::string("cuda-") + device_format_name(f)), dw_(f, W, K, N, nullptr),
        session_(std::move(session)) {
    int64_t nz = 0;
    for (int64_t i = 0; i < K * N; ++i) nz += W[i] != 0.0f;
    density_ = static_cast<double>(nz) / static_cast<double>(K * N);
  }

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
    session_->matmul(dw_, x, M, y, ep.act, ep.bias);
  }

 private:
  std::string name_;
  mutable DeviceWeights dw_;  // its own staging is unused: the session's serialises access
  double density_ = 1.0;
  std::shared_ptr<SessionStream> session_;
};

template <DeviceFormat F>
std::unique_ptr<PackedWeights> pack(const float* W, int64_t K, int64_t N, const PackOptions& opts) {
  return std::make_unique<CudaPacked>(F, W, K, N, session_of(opts));
}

// "cuda-auto": the kernel choose_device_format picks (options.int8 = 1: the weights are quantize()d).
std::unique_ptr<PackedWeights> pack_auto(const float* W, int64_t K, int64_t N, const PackOptions& opts) {
  require_device();
  const bool int8 = opts.number("int8", 0) != 0;
  // 2:4 needs the device's mma.sp metadata layout; when the probe found none, int8 stays dense.
  const DeviceFormat f = choose_device_format(W, K, N, int8, int8 && sparse24_meta_layout() >= 0);
  return std::make_unique<CudaPacked>(f, W, K, N, session_of(opts));
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
    register_format("cuda-auto", pack_auto);
  });
  return true;
}

}  // namespace sparq::cuda
