// backend(): the instruction set in use, what the CPU offers, the thread pool, the CUDA status.
#include "binding.h"
#include "sparq/cpu.h"
#include "sparq/packed.h"
#include "sparq/threadpool.h"

#ifndef SPARQ_VERSION
#define SPARQ_VERSION "0.1.0"
#endif

namespace sparq_binding {

// Defined by the CUDA binding when the addon is built with SPARQ_CUDA; otherwise says why not.
Napi::Value cuda_status(Napi::Env env);

namespace {

Napi::Value Backend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  rethrow_native(env, [&] { out.Set("isa", Napi::String::New(env, sparq::active_isa_label())); });
  Napi::Array available = Napi::Array::New(env);
  uint32_t i = 0;
  for (sparq::Isa isa : sparq::available_isas()) available.Set(i++, Napi::String::New(env, sparq::isa_name(isa)));
  out.Set("available", available);
  out.Set("threads", Napi::Number::New(env, sparq::ThreadPool::global().size()));
  out.Set("cuda", cuda_status(env));
  out.Set("version", Napi::String::New(env, SPARQ_VERSION));
  const auto& f = sparq::cpu_features();
  Napi::Object features = Napi::Object::New(env);
  features.Set("avx2", f.avx2);
  features.Set("fma", f.fma);
  features.Set("avxvnni", f.avxvnni);
  features.Set("avx512f", f.avx512f);
  features.Set("avx512bw", f.avx512bw);
  features.Set("avx512vl", f.avx512vl);
  features.Set("avx512vnni", f.avx512vnni);
  features.Set("avx512bf16", f.avx512bf16);
  out.Set("features", features);
  Napi::Array formats = Napi::Array::New(env);
  i = 0;
  for (auto& name : sparq::registered_formats()) formats.Set(i++, Napi::String::New(env, name));
  out.Set("formats", formats);
  return out;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int64_t n = arg_integer(info, 0, "threads", 1, 1024);
  sparq::ThreadPool::global().resize(static_cast<int>(n));
  return info.Env().Undefined();
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("backend", Napi::Function::New(env, Backend, "backend"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
}

}  // namespace

SPARQ_BINDING_MODULE(backend, Init);

}  // namespace sparq_binding
