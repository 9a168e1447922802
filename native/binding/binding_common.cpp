#include <new>
#include <utility>
#include <vector>

#include "binding.h"
#include "sparq/error.h"

namespace sparq_binding {
namespace {
std::vector<std::pair<const char*, ModuleInit>>& modules() {
  static std::vector<std::pair<const char*, ModuleInit>> all;
  return all;
}
}  // namespace

void register_module(const char* name, ModuleInit init) { modules().emplace_back(name, init); }

struct AddonData {
  std::map<std::string, Napi::FunctionReference> constructors;
  void* run_dispatcher = nullptr;  // owned by run_dispatch.cpp (freed with the environment's threadsafe function)
};

void init_modules(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData<AddonData>(new AddonData());
  for (auto& m : modules()) m.second(env, exports);
}

Napi::FunctionReference& constructor_ref(Napi::Env env, const std::string& name) {
  return env.GetInstanceData<AddonData>()->constructors[name];
}

void*& run_dispatcher_slot(Napi::Env env) { return env.GetInstanceData<AddonData>()->run_dispatcher; }

Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Value().Set("code", Napi::String::New(env, code));
  return e;
}

void throw_type_error(Napi::Env env, const std::string& message) {
  Napi::TypeError e = Napi::TypeError::New(env, message);
  e.Value().Set("code", Napi::String::New(env, "ERR_INVALID_ARGUMENT"));
  throw e;
}

void throw_range_error(Napi::Env env, const std::string& message) {
  Napi::RangeError e = Napi::RangeError::New(env, message);
  e.Value().Set("code", Napi::String::New(env, "ERR_INVALID_ARGUMENT"));
  throw e;
}

Napi::Error error_from_code(Napi::Env env, const std::string& code, const std::string& message) {
  if (code == "ERR_INVALID_ARGUMENT") {
    Napi::RangeError e = Napi::RangeError::New(env, message);
    e.Value().Set("code", Napi::String::New(env, code));
    return e;
  }
  return make_error(env, code, message);
}

void rethrow_native(Napi::Env env, const std::function<void()>& fn) {
  std::string code, message;
  try {
    fn();
    return;
  } catch (const Napi::Error&) {
    throw;
  } catch (const sparq::Error& e) {
    code = e.code();
    message = e.what();
  } catch (const std::bad_alloc&) {
    code = "ERR_OUT_OF_MEMORY";
    message = "Out of memory in the native core";
  } catch (const std::exception& e) {
    code = "ERR_NATIVE";
    message = e.what();
  }
  throw error_from_code(env, code, message);
}

std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsNumber()) {
    std::string s = v.ToString().Utf8Value();
    return s;
  }
  if (v.IsString()) return "a string";
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "true" : "false";
  if (v.IsTypedArray()) {
    switch (v.As<Napi::TypedArray>().TypedArrayType()) {
      case napi_float32_array: return "a Float32Array";
      case napi_float64_array: return "a Float64Array";
      case napi_int8_array: return "an Int8Array";
      case napi_uint8_array: return "a Uint8Array";
      case napi_int32_array: return "an Int32Array";
      default: return "a typed array of another type";
    }
  }
  if (v.IsArray()) return "an array";
  if (v.IsFunction()) return "a function";
  return "an object";
}

int64_t arg_integer(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t lo, int64_t hi) {
  Napi::Value v = info[i];
  const std::string what = "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  if (!v.IsNumber()) throw_type_error(info.Env(), "Expected " + what + " for " + name + " but received " + describe(v));
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < static_cast<double>(lo) || d > static_cast<double>(hi))
    throw_range_error(info.Env(), "Expected " + what + " for " + name + " but received " + describe(v));
  return static_cast<int64_t>(d);
}

Napi::Float32Array arg_float32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw_type_error(info.Env(), std::string("Expected a Float32Array for ") + name + " but received " + describe(v));
  return v.As<Napi::Float32Array>();
}

Napi::Float32Array arg_float32_or_null(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (v.IsNull() || v.IsUndefined()) return Napi::Float32Array();
  return arg_float32(info, i, name);
}

std::string arg_string(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsString()) throw_type_error(info.Env(), std::string("Expected a string for ") + name + " but received " + describe(v));
  return v.As<Napi::String>().Utf8Value();
}

}  // namespace sparq_binding
