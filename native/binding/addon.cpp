// The addon's entry point: every binding file registered its exports (SPARQ_BINDING_MODULE).
#include "binding.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  sparq_binding::init_modules(env, exports);
  return exports;
}

NODE_API_MODULE(sparq, Init)
