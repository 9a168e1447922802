// DeviceContextHandle (device_context_handle.h). Compiled in every build; only a CUDA build creates
// one (createCudaSession in cuda_binding.cpp).
#include "binding.h"
#include "device_context_handle.h"
#include "held_memory.h"

namespace sparq_binding {

Napi::Function DeviceContextHandle::Define(Napi::Env env) {
  return DefineClass(env, "DeviceContextHandle",
                     {InstanceMethod<&DeviceContextHandle::Info>("info"), InstanceMethod<&DeviceContextHandle::Release>("release")});
}

DeviceContextHandle::DeviceContextHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceContextHandle>(info) {}

// Finalizer (never released): the handle's reference goes; the packed matrices keep theirs.
DeviceContextHandle::~DeviceContextHandle() { Drop(Env()); }

Napi::Object DeviceContextHandle::Wrap(Napi::Env env, std::shared_ptr<sparq::DeviceContext> context) {
  Napi::Object obj = constructor_ref(env, "DeviceContextHandle").New({});
  DeviceContextHandle* self = Napi::ObjectWrap<DeviceContextHandle>::Unwrap(obj);
  // The staging it holds now (it may grow with the batches it stages: the GC's count is a floor).
  self->reported_bytes_ = static_cast<int64_t>(context->bytes());
  self->context_ = std::move(context);
  held_add(env, Held::device, self->reported_bytes_);
  return obj;
}

void DeviceContextHandle::Drop(Napi::Env env) {
  if (!context_) return;
  context_.reset();
  held_remove(env, Held::device, reported_bytes_);
  reported_bytes_ = 0;
}

std::shared_ptr<sparq::DeviceContext> DeviceContextHandle::ContextOfValue(Napi::Env env, Napi::Value v, const std::string& name) {
  DeviceContextHandle* self = unwrap_instance<DeviceContextHandle>(env, v, "DeviceContextHandle", "a device context", name);
  if (!self->context_)
    throw make_error(env, "ERR_RELEASED", "Expected a live device context for " + name + " but received one that was released");
  return self->context_;
}

Napi::Value DeviceContextHandle::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("released", !context_);
  if (context_) {
    out.Set("kind", context_->kind());
    out.Set("stagingBytes", Napi::Number::New(env, static_cast<double>(context_->bytes())));
  }
  return out;
}

Napi::Value DeviceContextHandle::Release(const Napi::CallbackInfo& info) {
  Drop(info.Env());
  return info.Env().Undefined();
}

namespace {
void Init(Napi::Env env, Napi::Object /*exports*/) {
  constructor_ref(env, "DeviceContextHandle") = Napi::Persistent(DeviceContextHandle::Define(env));
}
}  // namespace

SPARQ_BINDING_MODULE(device_context, Init);

}  // namespace sparq_binding
