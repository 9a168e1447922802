// backend().cuda in a CPU-only build. (A SPARQ_CUDA build compiles cuda_binding.cu's version instead.)
#include "binding.h"

#ifndef SPARQ_WITH_CUDA
namespace sparq_binding {
Napi::Value cuda_status(Napi::Env env) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("available", false);
  out.Set("reason", "this build of sparq was compiled without CUDA (rebuild with npm run build:cuda)");
  return out;
}
}  // namespace sparq_binding
#endif
