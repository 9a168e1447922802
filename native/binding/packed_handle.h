// PackedHandle: the JS object that owns packed weights. It reports its native bytes to the GC,
// is freed by release() or its finalizer, and shares ownership with any async worker still using it
// (releasing during a run frees the memory when the run ends).
#pragma once
#include <napi.h>

#include <memory>
#include <string>

#include "sparq/packed.h"

namespace sparq_binding {

class PackedHandle : public Napi::ObjectWrap<PackedHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<sparq::PackedWeights> weights);
  // The weights behind a JS value, or a TypeError / ERR_RELEASED error naming `name`.
  static std::shared_ptr<sparq::PackedWeights> WeightsOf(const Napi::CallbackInfo& info, size_t i, const char* name);
  // The same for any JS value (an element of an array argument).
  static std::shared_ptr<sparq::PackedWeights> WeightsOfValue(Napi::Env env, Napi::Value v, const std::string& name);

  explicit PackedHandle(const Napi::CallbackInfo& info);
  ~PackedHandle() override;

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Release(const Napi::CallbackInfo& info);
  void Drop(Napi::Env env);

  std::shared_ptr<sparq::PackedWeights> weights_;
  int64_t reported_bytes_ = 0;
};

// Reads a pack-options object ({ [key]: number | boolean | string }) from argument i.
sparq::PackOptions read_pack_options(const Napi::CallbackInfo& info, size_t i);

}  // namespace sparq_binding
