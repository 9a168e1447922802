// Shared by the binding files: module registration, argument checks and error conversion. The
// binding re-checks everything memory safety depends on, even though TypeScript validated first.
#pragma once
#include <napi.h>

#include <cmath>
#include <functional>
#include <map>
#include <string>

namespace sparq_binding {

// Each binding file registers its exports with SPARQ_BINDING_MODULE, so adding one is adding a file.
using ModuleInit = void (*)(Napi::Env env, Napi::Object exports);
void register_module(const char* name, ModuleInit init);
void init_modules(Napi::Env env, Napi::Object exports);
struct ModuleRegistrar {
  ModuleRegistrar(const char* name, ModuleInit init) { register_module(name, init); }
};
#define SPARQ_BINDING_MODULE(ident, init) static ::sparq_binding::ModuleRegistrar sparq_module_registrar_##ident(#ident, init)

// Per-environment state: constructors of the wrapped classes, by name (one env per addon instance).
Napi::FunctionReference& constructor_ref(Napi::Env env, const std::string& name);
// The environment's async-run dispatcher (run_dispatch.cpp), null until its first async run.
void*& run_dispatcher_slot(Napi::Env env);

// Errors with a stable `code`, as TypeScript's SparqError expects.
Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message);
[[noreturn]] void throw_type_error(Napi::Env env, const std::string& message);
[[noreturn]] void throw_range_error(Napi::Env env, const std::string& message);
// Runs fn, converting sparq::Error / std::bad_alloc / std::exception into JS errors with codes.
void rethrow_native(Napi::Env env, const std::function<void()>& fn);
// The same conversion for a failure captured in an async worker.
Napi::Error error_from_code(Napi::Env env, const std::string& code, const std::string& message);

std::string describe(const Napi::Value& v);  // "a string", "3.5", "null", ... for error messages

// The T wrapped by v, an instance of the class registered as `ctor` (constructor_ref), or a TypeError
// "Expected <what> for <name> but received <v>".
template <typename T>
T* unwrap_instance(Napi::Env env, Napi::Value v, const char* ctor, const char* what, const std::string& name) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(constructor_ref(env, ctor).Value()))
    throw_type_error(env, std::string("Expected ") + what + " for " + name + " but received " + describe(v));
  return Napi::ObjectWrap<T>::Unwrap(v.As<Napi::Object>());
}

// Argument readers: each throws "Expected <what> for <name> but received <value>".
int64_t arg_integer(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t lo, int64_t hi);
Napi::Float32Array arg_float32(const Napi::CallbackInfo& info, size_t i, const char* name);
Napi::Float32Array arg_float32_or_null(const Napi::CallbackInfo& info, size_t i, const char* name);
std::string arg_string(const Napi::CallbackInfo& info, size_t i, const char* name);

}  // namespace sparq_binding
