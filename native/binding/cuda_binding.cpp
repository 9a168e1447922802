// backend().cuda in a SPARQ_CUDA build: the device sparq would use, or why there is none (no GPU, no
// driver, a driver older than the runtime...), the "cuda-*" weight formats where there is a device, and
// createCudaSession() for InferenceSession's device: 'cuda'. The CPU-only build's version is
// cuda_status_cpu.cpp (and has no createCudaSession: the session says the build lacks CUDA).
#ifdef SPARQ_WITH_CUDA
#include <memory>

#include "binding.h"
#include "device_context_handle.h"
#include "sparq/cuda.h"

namespace sparq_binding {

Napi::Value cuda_status(Napi::Env env) {
  const sparq::cuda::DeviceInfo& d = sparq::cuda::device_info();
  Napi::Object out = Napi::Object::New(env);
  out.Set("available", d.available);
  if (!d.available) {
    out.Set("reason", d.reason);
    return out;
  }
  out.Set("device", d.name);
  out.Set("sms", d.sms);
  out.Set("memory", static_cast<double>(d.memory));
  out.Set("computeCapability", std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor));
  return out;
}

namespace {
// createCudaSession() -> DeviceContextHandle: a session's stream and staging (sparq::cuda::SessionStream),
// for pack(..., { device }) of every matrix the session packs. ERR_CUDA_UNAVAILABLE without a device.
Napi::Value CreateCudaSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<sparq::DeviceContext> session;
  rethrow_native(env, [&] { session = std::make_shared<sparq::cuda::SessionStream>(); });
  return DeviceContextHandle::Wrap(env, std::move(session));
}

// The "cuda-*" weight formats exist where there is a device to run them (see sparq::cuda::register_formats).
void Init(Napi::Env env, Napi::Object exports) {
  sparq::cuda::register_formats();
  exports.Set("createCudaSession", Napi::Function::New(env, CreateCudaSession, "createCudaSession"));
}
}  // namespace

SPARQ_BINDING_MODULE(cuda, Init);

}  // namespace sparq_binding
#endif
