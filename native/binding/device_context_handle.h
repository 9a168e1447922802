// DeviceContextHandle: the JS object that owns a session's device context (sparq::DeviceContext: for
// CUDA, a stream and its staging buffers). A session passes it to pack()/packBytes() as options.device;
// the packed matrices share ownership, so release() only drops the handle's reference and the stream
// goes when the last matrix using it is freed. Like PackedHandle, it reports the staging it holds to the
// GC (held_memory.h) and a handle never released is dropped by its finalizer.
#pragma once
#include <napi.h>

#include <memory>
#include <string>

#include "sparq/packed.h"

namespace sparq_binding {

class DeviceContextHandle : public Napi::ObjectWrap<DeviceContextHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<sparq::DeviceContext> context);
  // The context behind a JS value, or a TypeError / ERR_RELEASED error naming `name`.
  static std::shared_ptr<sparq::DeviceContext> ContextOfValue(Napi::Env env, Napi::Value v, const std::string& name);

  explicit DeviceContextHandle(const Napi::CallbackInfo& info);
  ~DeviceContextHandle() override;

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Release(const Napi::CallbackInfo& info);
  void Drop(Napi::Env env);

  std::shared_ptr<sparq::DeviceContext> context_;
  int64_t reported_bytes_ = 0;
};

}  // namespace sparq_binding
