// createPlan / PlanHandle: the InferenceSession's native side. A plan is built once per input
// signature from the spec TypeScript compiles (src/runtime/plan.ts); run() executes the whole plan
// on sparq's run queue (run_dispatch.h), or inline (runSync), on buffers the caller allocated.
#include <cstring>
#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif
#include <memory>
#include <string>
#include <vector>

#include "binding.h"
#include "held_memory.h"
#include "packed_handle.h"
#include "run_dispatch.h"
#include "sparq/aligned.h"
#include "sparq/error.h"
#include "sparq/plan.h"

namespace sparq_binding {
namespace {

Napi::Value prop(Napi::Object o, const char* key, const std::string& where) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) throw_type_error(o.Env(), std::string("Expected a value for ") + where + "." + key + " but received undefined");
  return v;
}

int64_t integer(Napi::Value v, const std::string& name, int64_t lo, int64_t hi) {
  if (!v.IsNumber()) throw_type_error(v.Env(), "Expected an integer for " + name + " but received " + describe(v));
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < static_cast<double>(lo) || d > static_cast<double>(hi))
    throw_range_error(v.Env(), "Expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "] for " + name +
                                   " but received " + describe(v));
  return static_cast<int64_t>(d);
}

Napi::Array array(Napi::Value v, const std::string& name) {
  if (!v.IsArray()) throw_type_error(v.Env(), "Expected an array for " + name + " but received " + describe(v));
  return v.As<Napi::Array>();
}

template <typename T>
std::vector<T> integers(Napi::Value v, const std::string& name, int64_t lo, int64_t hi) {
  Napi::Array a = array(v, name);
  std::vector<T> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) out[i] = static_cast<T>(integer(a.Get(i), name + "[" + std::to_string(i) + "]", lo, hi));
  return out;
}

std::vector<float> floats(Napi::Value v, const std::string& name) {
  Napi::Array a = array(v, name);
  std::vector<float> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber()) throw_type_error(v.Env(), "Expected a number for " + name + "[" + std::to_string(i) + "] but received " + describe(e));
    out[i] = e.As<Napi::Number>().FloatValue();
  }
  return out;
}

napi_typedarray_type array_type_of(sparq::DType t) {
  switch (t) {
    case sparq::DType::float32: return napi_float32_array;
    case sparq::DType::int8: return napi_int8_array;
    case sparq::DType::int32: return napi_int32_array;
    case sparq::DType::int64: return napi_bigint64_array;
    case sparq::DType::float64: return napi_float64_array;
    case sparq::DType::int16: return napi_int16_array;
    case sparq::DType::uint16: case sparq::DType::float16: return napi_uint16_array;
    case sparq::DType::uint32: return napi_uint32_array;
    case sparq::DType::uint64: return napi_biguint64_array;
    default: return napi_uint8_array;
  }
}

void* typed_data(Napi::TypedArray a) {
  return static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset();
}

constexpr int64_t kMaxIndex = int64_t{1} << 50;

class PlanHandle : public Napi::ObjectWrap<PlanHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "PlanHandle",
                       {InstanceMethod<&PlanHandle::Run>("run"), InstanceMethod<&PlanHandle::RunSync>("runSync"),
                        InstanceMethod<&PlanHandle::Release>("release"), InstanceMethod<&PlanHandle::Info>("info")});
  }
  explicit PlanHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PlanHandle>(info) {}
  // Finalizer (never released): the plan goes (runs in flight hold their own reference), and its bytes.
  ~PlanHandle() override { drop(Env()); }

  void Init(Napi::Env env, std::shared_ptr<const sparq::Plan> plan, Napi::Object keep) {
    plan_ = std::move(plan);
    keep_ = Napi::Persistent(keep);
    reported_ = static_cast<int64_t>(plan_->arena_bytes());
    held_add(env, Held::plan, reported_);
  }

  std::shared_ptr<const sparq::Plan> plan(Napi::Env env) const {
    if (!plan_) throw make_error(env, "ERR_RELEASED", "Expected a live session for run() but received a session that was released");
    return plan_;
  }

 private:
  struct Buffers {
    std::vector<const void*> inputs;
    std::vector<void*> outputs;
    int threads = 0;
  };

  // run(inputs, outputs, threads): checks every buffer against the plan's slots.
  Buffers read_buffers(const Napi::CallbackInfo& info, const sparq::Plan& plan) {
    Napi::Env env = info.Env();
    Buffers b;
    Napi::Array ins = array(info[0], "inputs");
    Napi::Array outs = array(info[1], "outputs");
    if (static_cast<int>(ins.Length()) != plan.input_count() || static_cast<int>(outs.Length()) != plan.output_count())
      throw_range_error(env, "Expected " + std::to_string(plan.input_count()) + " inputs and " + std::to_string(plan.output_count()) +
                                 " outputs for run but received " + std::to_string(ins.Length()) + " and " + std::to_string(outs.Length()));
    auto check = [&](Napi::Value v, const sparq::PlanSlot& slot, const std::string& name) -> void* {
      if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != array_type_of(slot.dtype))
        throw_type_error(env, std::string("Expected a typed array of ") + sparq::dtype_name(slot.dtype) + " for " + name +
                                  " but received " + describe(v));
      Napi::TypedArray a = v.As<Napi::TypedArray>();
      if (a.ByteLength() != slot.bytes())
        throw_range_error(env, "Expected " + std::to_string(slot.shape.numel()) + " elements for " + name + " but received " +
                                   std::to_string(a.ElementLength()));
      return typed_data(a);
    };
    for (uint32_t i = 0; i < ins.Length(); ++i)
      b.inputs.push_back(check(ins.Get(i), plan.input_slot(static_cast<int>(i)), "inputs[" + std::to_string(i) + "]"));
    for (uint32_t i = 0; i < outs.Length(); ++i)
      b.outputs.push_back(check(outs.Get(i), plan.output_slot(static_cast<int>(i)), "outputs[" + std::to_string(i) + "]"));
    b.threads = static_cast<int>(arg_integer(info, 2, "threads", 0, 1024));
    return b;
  }

  Napi::Value RunSync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto plan = this->plan(env);
    Buffers b = read_buffers(info, *plan);
    rethrow_native(env, [&] { plan->run(b.inputs.data(), b.outputs.data(), b.threads); });
    return env.Undefined();
  }

  Napi::Value Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto plan = this->plan(env);
    Buffers b = read_buffers(info, *plan);
    // Inputs, outputs and the plan's constants stay referenced until the run ends (the plan holds its
    // packed weights itself), so release() may drop this handle's reference to the constants at once.
    return run_async(
        env, [plan = std::move(plan), b = std::move(b)] { plan->run(b.inputs.data(), b.outputs.data(), b.threads); },
        {info[0], info[1], keep_.Value()});
  }

  Napi::Value Release(const Napi::CallbackInfo& info) {
    // Runs in flight hold their own references to the plan and the constants: both go when the last
    // one ends. Nothing here waits for the GC: its finalizers run on a later turn of the event loop,
    // which a loop of create/run/release awaiting inline runs may never reach.
    drop(info.Env());
    return info.Env().Undefined();
  }

  void drop(Napi::Env env) {
    if (!plan_) return;
    plan_.reset();
    keep_.Reset();
    held_remove(env, Held::plan, reported_);
    reported_ = 0;
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("released", !plan_);
    if (plan_) {
      o.Set("arenaBytes", Napi::Number::New(env, static_cast<double>(plan_->arena_bytes())));
      o.Set("ops", Napi::Number::New(env, static_cast<double>(plan_->op_count())));
    }
    return o;
  }

  std::shared_ptr<const sparq::Plan> plan_;
  Napi::ObjectReference keep_;
  int64_t reported_ = 0;
};

Napi::Value CreatePlan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw_type_error(env, "Expected a plan spec object for spec but received " + describe(info[0]));
  Napi::Object spec = info[0].As<Napi::Object>();
  const int64_t arena = integer(prop(spec, "arenaBytes", "spec"), "spec.arenaBytes", 0, kMaxIndex);
  const int inputs = static_cast<int>(integer(prop(spec, "inputCount", "spec"), "spec.inputCount", 0, 1 << 20));
  const int outputs = static_cast<int>(integer(prop(spec, "outputCount", "spec"), "spec.outputCount", 0, 1 << 20));

  Napi::Array constants_js = array(prop(spec, "constants", "spec"), "spec.constants");
  std::vector<sparq::ConstantRef> constants;
  for (uint32_t i = 0; i < constants_js.Length(); ++i) {
    Napi::Value v = constants_js.Get(i);
    if (!v.IsTypedArray()) throw_type_error(env, "Expected a typed array for spec.constants[" + std::to_string(i) + "] but received " + describe(v));
    Napi::TypedArray a = v.As<Napi::TypedArray>();
    constants.push_back({typed_data(a), a.ByteLength()});
  }
  Napi::Array weights_js = array(prop(spec, "weights", "spec"), "spec.weights");
  std::vector<std::shared_ptr<sparq::PackedWeights>> weights;
  for (uint32_t i = 0; i < weights_js.Length(); ++i)
    weights.push_back(PackedHandle::WeightsOfValue(env, weights_js.Get(i), "spec.weights[" + std::to_string(i) + "]"));

  Napi::Array slots_js = array(prop(spec, "slots", "spec"), "spec.slots");
  std::vector<sparq::PlanSlot> slots(slots_js.Length());
  for (uint32_t i = 0; i < slots_js.Length(); ++i) {
    const std::string where = "spec.slots[" + std::to_string(i) + "]";
    Napi::Value sv = slots_js.Get(i);
    if (!sv.IsObject()) throw_type_error(env, "Expected an object for " + where + " but received " + describe(sv));
    Napi::Object s = sv.As<Napi::Object>();
    const int64_t dtype = integer(prop(s, "dtype", where), where + ".dtype", 0, 64);
    if (!sparq::dtype_valid(static_cast<int32_t>(dtype))) throw_range_error(env, "Expected a supported dtype code for " + where + ".dtype but received " + std::to_string(dtype));
    slots[i].dtype = static_cast<sparq::DType>(dtype);
    std::vector<int64_t> dims = integers<int64_t>(prop(s, "dims", where), where + ".dims", 0, kMaxIndex);
    if (dims.size() > static_cast<size_t>(sparq::kMaxRank)) throw_range_error(env, "Expected a rank of at most 8 for " + where + ".dims but received " + std::to_string(dims.size()));
    slots[i].shape = sparq::Shape::of(dims.data(), static_cast<int>(dims.size()));
    double n = 1;
    for (int64_t d : dims) n *= static_cast<double>(d);
    if (n > static_cast<double>(kMaxIndex)) throw_range_error(env, "Expected a size below 2^50 for " + where + ".dims");
    slots[i].kind = static_cast<sparq::SlotKind>(integer(prop(s, "kind", where), where + ".kind", 0, 3));
    slots[i].index = integer(prop(s, "index", where), where + ".index", 0, kMaxIndex);
  }

  Napi::Array ops_js = array(prop(spec, "ops", "spec"), "spec.ops");
  std::vector<sparq::PlanOp> ops(ops_js.Length());
  for (uint32_t i = 0; i < ops_js.Length(); ++i) {
    const std::string where = "spec.ops[" + std::to_string(i) + "]";
    Napi::Value ov = ops_js.Get(i);
    if (!ov.IsObject()) throw_type_error(env, "Expected an object for " + where + " but received " + describe(ov));
    Napi::Object o = ov.As<Napi::Object>();
    ops[i].code = static_cast<sparq::OpCode>(integer(prop(o, "op", where), where + ".op", 0, 511));
    ops[i].inputs = integers<int32_t>(prop(o, "inputs", where), where + ".inputs", -1, 1 << 30);
    ops[i].outputs = integers<int32_t>(prop(o, "outputs", where), where + ".outputs", -1, 1 << 30);
    ops[i].ints = integers<int64_t>(prop(o, "ints", where), where + ".ints", -kMaxIndex, kMaxIndex);
    ops[i].floats = floats(prop(o, "floats", where), where + ".floats");
    const int64_t w = integer(prop(o, "weight", where), where + ".weight", -1, static_cast<int64_t>(weights.size()) - 1);
    if (w >= 0) ops[i].weights = weights[static_cast<size_t>(w)];
    Napi::Value extra = o.Get("extraWeights");
    if (!extra.IsUndefined())
      for (int64_t e : integers<int64_t>(extra, where + ".extraWeights", 0, static_cast<int64_t>(weights.size()) - 1))
        ops[i].extra_weights.push_back(weights[static_cast<size_t>(e)]);
  }

  std::shared_ptr<const sparq::Plan> plan;
  rethrow_native(env, [&] {
    plan = std::make_shared<const sparq::Plan>(std::move(slots), std::move(ops), std::move(constants), static_cast<size_t>(arena),
                                               inputs, outputs);
  });
  Napi::Object obj = constructor_ref(env, "PlanHandle").New({});
  Napi::Object keep = Napi::Object::New(env);
  keep.Set("constants", constants_js);
  Napi::ObjectWrap<PlanHandle>::Unwrap(obj)->Init(env, std::move(plan), keep);
  return obj;
}

// packBytes(format, bytes, K, N, options) -> PackedHandle: packs fp32 weights given as little-endian
// bytes at any alignment (weights sitting unaligned inside a model file): in place where the format
// packs from bytes ('dense'), else through a transient aligned copy of that one matrix, so the caller
// never materialises a JS copy of every weight.
Napi::Value PackBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string format = arg_string(info, 0, "format");
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw_type_error(env, "Expected a Uint8Array for bytes but received " + describe(info[1]));
  Napi::Uint8Array bytes = info[1].As<Napi::Uint8Array>();
  const int64_t K = arg_integer(info, 2, "K", 1, (int64_t(1) << 31) - 1);
  const int64_t N = arg_integer(info, 3, "N", 1, (int64_t(1) << 31) - 1);
  if (static_cast<double>(bytes.ByteLength()) != 4.0 * static_cast<double>(K) * static_cast<double>(N))
    throw_range_error(env, "Expected 4·K·N = " + std::to_string(4 * K * N) + " bytes for bytes but received " +
                               std::to_string(bytes.ByteLength()));
  sparq::PackOptions opts = read_pack_options(info, 4);
  std::shared_ptr<sparq::PackedWeights> packed;
  const sparq::LoadTimeAllocations filled_first;  // see sparq/aligned.h
  rethrow_native(env, [&] { packed = sparq::pack_weights_bytes(format, bytes.Data(), K, N, opts); });
  return PackedHandle::Wrap(env, std::move(packed));
}

// packCsc(format, colPtr: Int32Array, rows: Int32Array, values: Float32Array, K, N, options) -> PackedHandle:
// packs W from its nonzeros by column (a pruned weight decoded from a .sparq file), in O(nonzeros) for
// formats with a CSC packer; pack_weights_csc checks every pointer and index.
Napi::Value PackCsc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string format = arg_string(info, 0, "format");
  auto int32s = [&](size_t i, const char* name) {
    if (info.Length() <= i || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      throw_type_error(env, std::string("Expected an Int32Array for ") + name + " but received " + describe(info[i]));
    return info[i].As<Napi::Int32Array>();
  };
  Napi::Int32Array col_ptr = int32s(1, "colPtr");
  Napi::Int32Array rows = int32s(2, "rows");
  Napi::Float32Array values = arg_float32(info, 3, "values");
  const int64_t K = arg_integer(info, 4, "K", 1, (int64_t(1) << 31) - 1);
  const int64_t N = arg_integer(info, 5, "N", 1, (int64_t(1) << 31) - 1);
  if (static_cast<int64_t>(col_ptr.ElementLength()) != N + 1)
    throw_range_error(env, "Expected N + 1 = " + std::to_string(N + 1) + " column pointers for colPtr but received " + std::to_string(col_ptr.ElementLength()));
  if (values.ElementLength() != rows.ElementLength())
    throw_range_error(env, "Expected as many values as rows (" + std::to_string(rows.ElementLength()) + ") for values but received " + std::to_string(values.ElementLength()));
  sparq::PackOptions opts = read_pack_options(info, 6);
  std::shared_ptr<sparq::PackedWeights> packed;
  const sparq::LoadTimeAllocations filled_first;  // see sparq/aligned.h
  rethrow_native(env, [&] {
    const sparq::CscMatrix m{col_ptr.Data(), rows.Data(), values.Data()};
    packed = sparq::pack_weights_csc(format, m, static_cast<int64_t>(rows.ElementLength()), K, N, opts);
  });
  return PackedHandle::Wrap(env, std::move(packed));
}

// discardPages(view): returns the whole memory pages inside a typed array's bytes to the OS
// (madvise MADV_DONTNEED; the bytes read as zero afterwards). A session calls it on weights it read
// from a model file itself and has packed, so the file's copy of them stops counting in RSS.
// Returns the bytes released (0 where unsupported).
Napi::Value DiscardPages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray()) throw_type_error(env, "Expected a typed array for view but received " + describe(info[0]));
  Napi::TypedArray a = info[0].As<Napi::TypedArray>();
  double released = 0;
#if defined(__linux__)
  const long page = sysconf(_SC_PAGESIZE);
  if (page > 0) {
    const uintptr_t begin = reinterpret_cast<uintptr_t>(typed_data(a));
    const uintptr_t end = begin + a.ByteLength();
    const uintptr_t p = static_cast<uintptr_t>(page);
    const uintptr_t first = (begin + p - 1) / p * p, last = end / p * p;
    if (last > first && madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED) == 0)
      released = static_cast<double>(last - first);
  }
#endif
  return Napi::Number::New(env, released);
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("discardPages", Napi::Function::New(env, DiscardPages, "discardPages"));
  exports.Set("packBytes", Napi::Function::New(env, PackBytes, "packBytes"));
  exports.Set("packCsc", Napi::Function::New(env, PackCsc, "packCsc"));
  Napi::Function ctor = PlanHandle::Define(env);
  constructor_ref(env, "PlanHandle") = Napi::Persistent(ctor);
  exports.Set("createPlan", Napi::Function::New(env, CreatePlan, "createPlan"));
}

}  // namespace

SPARQ_BINDING_MODULE(session, Init);

}  // namespace sparq_binding
