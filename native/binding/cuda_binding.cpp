// backend().cuda in a SPARQ_CUDA build: the device sparq would use, or why there is none (no GPU, no
// driver, a driver older than the runtime...), and the "cuda-*" weight formats where there is a device.
// The CPU-only build's version is cuda_status_cpu.cpp.
#ifdef SPARQ_WITH_CUDA
#include "binding.h"
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
// The "cuda-*" weight formats exist where there is a device to run them (see sparq::cuda::register_formats).
void Init(Napi::Env /*env*/, Napi::Object /*exports*/) { sparq::cuda::register_formats(); }
}  // namespace

SPARQ_BINDING_MODULE(cuda, Init);

}  // namespace sparq_binding
#endif
