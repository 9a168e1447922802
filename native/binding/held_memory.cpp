#include "held_memory.h"

#include <atomic>

#include "binding.h"

namespace sparq_binding {
namespace {

std::atomic<int64_t> counts[2];
std::atomic<int64_t> held_bytes{0};

// heldNative() -> { packed, plans, bytes }: live handles holding native memory, and the bytes reported.
Napi::Value HeldNative(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("packed", Napi::Number::New(env, static_cast<double>(counts[static_cast<int>(Held::packed)].load())));
  o.Set("plans", Napi::Number::New(env, static_cast<double>(counts[static_cast<int>(Held::plan)].load())));
  o.Set("bytes", Napi::Number::New(env, static_cast<double>(held_bytes.load())));
  return o;
}

void Init(Napi::Env env, Napi::Object exports) { exports.Set("heldNative", Napi::Function::New(env, HeldNative, "heldNative")); }

}  // namespace

void held_add(Napi::Env env, Held kind, int64_t bytes) {
  counts[static_cast<int>(kind)].fetch_add(1, std::memory_order_relaxed);
  held_bytes.fetch_add(bytes, std::memory_order_relaxed);
  if (bytes != 0) Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
}

void held_remove(Napi::Env env, Held kind, int64_t bytes) {
  counts[static_cast<int>(kind)].fetch_sub(1, std::memory_order_relaxed);
  held_bytes.fetch_sub(bytes, std::memory_order_relaxed);
  if (bytes != 0) Napi::MemoryManagement::AdjustExternalMemory(env, -bytes);
}

SPARQ_BINDING_MODULE(held_memory, Init);

}  // namespace sparq_binding
