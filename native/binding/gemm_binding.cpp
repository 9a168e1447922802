// gemm(transA, transB, M, N, K, A, B, C|null, alpha, beta, threads) -> Float32Array: the strided fp32
// GEMM (sparq/sgemm.h) for training and tests. Synchronous. C = alpha·op(A)·op(B) + beta·C with
// row-major operands: A holds M·K floats (K x M when transA), B holds K·N (N x K when transB).
// When C is given it is updated in place and returned; when null a new M·N array is returned (beta unused).
#include <string>

#include "binding.h"
#include "sparq/sgemm.h"

namespace sparq_binding {
namespace {

bool arg_boolean(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsBoolean()) throw_type_error(info.Env(), std::string("Expected a boolean for ") + name + " but received " + describe(v));
  return v.As<Napi::Boolean>().Value();
}

float arg_finite(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsNumber()) throw_type_error(info.Env(), std::string("Expected a finite number for ") + name + " but received " + describe(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw_range_error(info.Env(), std::string("Expected a finite number for ") + name + " but received " + describe(v));
  return static_cast<float>(d);
}

void check_length(Napi::Env env, const Napi::Float32Array& a, int64_t want, const char* what, const char* name) {
  if (static_cast<int64_t>(a.ElementLength()) != want)
    throw_range_error(env, std::string("Expected a Float32Array of ") + what + " = " + std::to_string(want) +
                               " values for " + name + " but received " + std::to_string(a.ElementLength()));
}

Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const bool ta = arg_boolean(info, 0, "transA"), tb = arg_boolean(info, 1, "transB");
  const int64_t limit = (int64_t(1) << 31) - 1;
  const int64_t M = arg_integer(info, 2, "M", 0, limit), N = arg_integer(info, 3, "N", 0, limit),
                K = arg_integer(info, 4, "K", 0, limit);
  Napi::Float32Array A = arg_float32(info, 5, "A"), B = arg_float32(info, 6, "B");
  Napi::Float32Array C = arg_float32_or_null(info, 7, "C");
  const float alpha = arg_finite(info, 8, "alpha"), beta = arg_finite(info, 9, "beta");
  const int threads = static_cast<int>(arg_integer(info, 10, "threads", 0, 1024));
  check_length(env, A, M * K, "M·K", "A");
  check_length(env, B, K * N, "K·N", "B");
  const bool fresh = C.IsEmpty();
  if (fresh)
    C = Napi::Float32Array::New(env, static_cast<size_t>(M * N));
  else
    check_length(env, C, M * N, "M·N", "C");
  rethrow_native(env, [&] {
    sparq::sgemm(ta, tb, M, N, K, alpha, A.Data(), ta ? M : K, B.Data(), tb ? K : N, fresh ? 0.0f : beta, C.Data(), N,
                 threads);
  });
  return C;
}

void Init(Napi::Env env, Napi::Object exports) { exports.Set("gemm", Napi::Function::New(env, Gemm, "gemm")); }

}  // namespace

SPARQ_BINDING_MODULE(gemm, Init);

}  // namespace sparq_binding
