// measurePeak(kind, millis): the machine's arithmetic ceiling for benchmark reports.
#include "binding.h"
#include "sparq/peak.h"

namespace sparq_binding {
namespace {

Napi::Value MeasurePeak(const Napi::CallbackInfo& info) {
  std::string kind = arg_string(info, 0, "kind");
  int64_t millis = arg_integer(info, 1, "millis", 1, 10000);
  sparq::PeakKind k;
  if (kind == "fp32") {
    k = sparq::PeakKind::fp32_fma;
  } else if (kind == "int8") {
    k = sparq::PeakKind::int8_vnni;
  } else {
    throw_range_error(info.Env(), "Expected 'fp32' or 'int8' for kind but received '" + kind + "'");
  }
  return Napi::Number::New(info.Env(), sparq::measure_peak_gops(k, static_cast<double>(millis)));
}

void Init(Napi::Env env, Napi::Object exports) { exports.Set("measurePeak", Napi::Function::New(env, MeasurePeak, "measurePeak")); }

}  // namespace

SPARQ_BINDING_MODULE(bench, Init);

}  // namespace sparq_binding
