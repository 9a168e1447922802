// kernels.pack / matmul / matmulSync: packing weights into a format and multiplying with them.
#include <memory>
#include <string>

#include "binding.h"
#include "device_context_handle.h"
#include "held_memory.h"
#include "packed_handle.h"
#include "sparq/aligned.h"
#include "sparq/error.h"
#include "sparq/packed.h"

namespace sparq_binding {

Napi::Function PackedHandle::Define(Napi::Env env) {
  return DefineClass(env, "PackedHandle",
                     {InstanceMethod<&PackedHandle::Info>("info"), InstanceMethod<&PackedHandle::Release>("release")});
}

PackedHandle::PackedHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PackedHandle>(info) {}

PackedHandle::~PackedHandle() {
  // Finalizer (weights never released): free them (a run in flight holds its own reference) and give
  // their bytes back to the GC's count.
  Drop(Env());
}

Napi::Object PackedHandle::Wrap(Napi::Env env, std::shared_ptr<sparq::PackedWeights> weights) {
  Napi::Object obj = constructor_ref(env, "PackedHandle").New({});
  PackedHandle* self = Napi::ObjectWrap<PackedHandle>::Unwrap(obj);
  self->reported_bytes_ = static_cast<int64_t>(weights->bytes());
  self->weights_ = std::move(weights);
  held_add(env, Held::packed, self->reported_bytes_);
  return obj;
}

std::shared_ptr<sparq::PackedWeights> PackedHandle::WeightsOf(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return WeightsOfValue(info.Env(), info[i], name);
}

std::shared_ptr<sparq::PackedWeights> PackedHandle::WeightsOfValue(Napi::Env env, Napi::Value v, const std::string& name) {
  PackedHandle* self = unwrap_instance<PackedHandle>(env, v, "PackedHandle", "packed weights from kernels.pack()", name);
  if (!self->weights_)
    throw make_error(env, "ERR_RELEASED", "Expected live packed weights for " + name + " but received weights that were released");
  return self->weights_;
}

void PackedHandle::Drop(Napi::Env env) {
  if (!weights_) return;
  weights_.reset();
  held_remove(env, Held::packed, reported_bytes_);
  reported_bytes_ = 0;
}

Napi::Value PackedHandle::Release(const Napi::CallbackInfo& info) {
  Drop(info.Env());
  return info.Env().Undefined();
}

Napi::Value PackedHandle::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("released", !weights_);
  if (!weights_) return out;
  out.Set("format", weights_->format());
  out.Set("bytes", Napi::Number::New(env, static_cast<double>(weights_->bytes())));
  out.Set("density", weights_->density());
  out.Set("K", Napi::Number::New(env, static_cast<double>(weights_->K())));
  out.Set("N", Napi::Number::New(env, static_cast<double>(weights_->N())));
  out.Set("isa", sparq::isa_name(weights_->isa()));
  std::vector<sparq::InfoEntry> extra;
  weights_->describe(extra);
  for (auto& e : extra) {
    if (e.is_text)
      out.Set(e.key, e.text);
    else
      out.Set(e.key, e.number);
  }
  return out;
}

// options: { [key]: number | string } for the format, and `device`: a session's device context.
sparq::PackOptions read_pack_options(const Napi::CallbackInfo& info, size_t i) {
  sparq::PackOptions opts;
  Napi::Value v = info[i];
  if (v.IsUndefined() || v.IsNull()) return opts;
  if (!v.IsObject()) throw_type_error(info.Env(), "Expected an object for options but received " + describe(v));
  Napi::Object o = v.As<Napi::Object>();
  Napi::Array keys = o.GetPropertyNames();
  for (uint32_t k = 0; k < keys.Length(); ++k) {
    std::string key = keys.Get(k).ToString().Utf8Value();
    Napi::Value val = o.Get(key);
    if (key == "device")
      opts.device = DeviceContextHandle::ContextOfValue(info.Env(), val, "options.device");
    else if (val.IsNumber())
      opts.numbers[key] = val.As<Napi::Number>().DoubleValue();
    else if (val.IsBoolean())
      opts.numbers[key] = val.As<Napi::Boolean>().Value() ? 1.0 : 0.0;
    else if (val.IsString())
      opts.strings[key] = val.As<Napi::String>().Utf8Value();
  }
  return opts;
}

namespace {

// pack(format, W, K, N, options) -> PackedHandle
Napi::Value Pack(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string format = arg_string(info, 0, "options.format");
  Napi::Float32Array W = arg_float32(info, 1, "W");
  int64_t K = arg_integer(info, 2, "K", 1, (int64_t(1) << 31) - 1);
  int64_t N = arg_integer(info, 3, "N", 1, (int64_t(1) << 31) - 1);
  if (static_cast<int64_t>(W.ElementLength()) != K * N)
    throw_range_error(env, "Expected a Float32Array of K·N = " + std::to_string(K * N) + " values for W but received " +
                               std::to_string(W.ElementLength()));
  sparq::PackOptions opts = read_pack_options(info, 4);
  std::shared_ptr<sparq::PackedWeights> packed;
  const sparq::LoadTimeAllocations filled_first;  // see sparq/aligned.h
  rethrow_native(env, [&] { packed = sparq::pack_weights(format, W.Data(), K, N, opts); });
  return PackedHandle::Wrap(env, std::move(packed));
}

struct MatmulArgs {
  std::shared_ptr<sparq::PackedWeights> weights;
  const float* x = nullptr;
  int64_t M = 0;
  const float* bias = nullptr;
  sparq::Activation act = sparq::Activation::none;
  int threads = 0;
};

// (handle, x, M, bias|null, activation, threads): validated here whatever JS checked.
MatmulArgs read_matmul_args(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MatmulArgs a;
  a.weights = PackedHandle::WeightsOf(info, 0, "w");
  Napi::Float32Array x = arg_float32(info, 1, "x");
  a.M = arg_integer(info, 2, "M", 1, (int64_t(1) << 31) - 1);
  if (static_cast<int64_t>(x.ElementLength()) != a.M * a.weights->K())
    throw_range_error(env, "Expected a Float32Array of M·K = " + std::to_string(a.M * a.weights->K()) +
                               " values for x but received " + std::to_string(x.ElementLength()));
  a.x = x.Data();
  Napi::Float32Array bias = arg_float32_or_null(info, 3, "options.bias");
  if (!bias.IsEmpty()) {
    if (static_cast<int64_t>(bias.ElementLength()) != a.weights->N())
      throw_range_error(env, "Expected a Float32Array of N = " + std::to_string(a.weights->N()) +
                                 " values for options.bias but received " + std::to_string(bias.ElementLength()));
    a.bias = bias.Data();
  }
  a.act = static_cast<sparq::Activation>(arg_integer(info, 4, "options.activation", 0, 2));
  a.threads = static_cast<int>(arg_integer(info, 5, "options.threads", 0, 1024));
  return a;
}

// The output: the caller's options.out (argument 6: M·N floats sharing no memory with x or bias), or
// a new array.
Napi::Float32Array output_for(const Napi::CallbackInfo& info, const MatmulArgs& a) {
  Napi::Env env = info.Env();
  const size_t n = static_cast<size_t>(a.M * a.weights->N());
  Napi::Float32Array out = arg_float32_or_null(info, 6, "options.out");
  if (out.IsEmpty()) return Napi::Float32Array::New(env, n);
  if (out.ElementLength() != n)
    throw_range_error(env, "Expected a Float32Array of M·N = " + std::to_string(n) + " values for options.out but received " +
                               std::to_string(out.ElementLength()));
  const auto overlaps = [&](const float* p, size_t len) {
    return p && out.Data() < p + len && p < out.Data() + n;
  };
  if (overlaps(a.x, static_cast<size_t>(a.M * a.weights->K())) || overlaps(a.bias, static_cast<size_t>(a.weights->N())))
    throw_range_error(env, "Expected options.out to share no memory with x or options.bias but received an overlapping array");
  return out;
}

Napi::Value MatmulSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MatmulArgs a = read_matmul_args(info);
  Napi::Float32Array y = output_for(info, a);
  rethrow_native(env, [&] { a.weights->matmul(a.x, a.M, y.Data(), {a.bias, a.act}, a.threads); });
  return y;
}

// Runs off the event loop; x, bias and the output stay referenced until it completes.
class MatmulWorker : public Napi::AsyncWorker {
 public:
  MatmulWorker(Napi::Env env, MatmulArgs args, Napi::Object keep_alive, Napi::Float32Array y)
      : Napi::AsyncWorker(env, "sparq.matmul"), deferred_(Napi::Promise::Deferred::New(env)), args_(std::move(args)),
        y_data_(y.Data()) {
    keep_ = Napi::Persistent(keep_alive);
    y_ = Napi::Persistent(y);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      args_.weights->matmul(args_.x, args_.M, y_data_, {args_.bias, args_.act}, args_.threads);
    } catch (const sparq::Error& e) {
      code_ = e.code();
      SetError(e.what());
    } catch (const std::bad_alloc&) {
      code_ = "ERR_OUT_OF_MEMORY";
      SetError("Out of memory in the native core");
    } catch (const std::exception& e) {
      code_ = "ERR_NATIVE";
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(y_.Value()); }
  void OnError(const Napi::Error& e) override {
    deferred_.Reject(error_from_code(Env(), code_, e.Message()).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  MatmulArgs args_;
  float* y_data_;
  Napi::ObjectReference keep_;
  Napi::Reference<Napi::Float32Array> y_;
  std::string code_ = "ERR_NATIVE";
};

Napi::Value Matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MatmulArgs a = read_matmul_args(info);
  Napi::Float32Array y = output_for(info, a);
  Napi::Object keep = Napi::Object::New(env);
  keep.Set("x", info[1]);
  keep.Set("bias", info[3]);
  keep.Set("w", info[0]);
  auto* worker = new MatmulWorker(env, std::move(a), keep, y);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

void Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = PackedHandle::Define(env);
  constructor_ref(env, "PackedHandle") = Napi::Persistent(ctor);
  exports.Set("PackedHandle", ctor);
  exports.Set("pack", Napi::Function::New(env, Pack, "pack"));
  exports.Set("matmulSync", Napi::Function::New(env, MatmulSync, "matmulSync"));
  exports.Set("matmul", Napi::Function::New(env, Matmul, "matmul"));
}

}  // namespace

SPARQ_BINDING_MODULE(kernels, Init);

}  // namespace sparq_binding
