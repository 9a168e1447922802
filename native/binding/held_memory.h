// The native memory the binding's handles hold (packed weights, plans with their arenas, device contexts
// with their staging): counted process-wide and reported to V8 (AdjustExternalMemory) when a handle takes
// it, given back when the handle is released or finalized, so the GC sees what forgotten sessions cost
// and collects them, and tests can see that collecting them freed it (heldNative()).
#pragma once
#include <napi.h>

#include <cstdint>

namespace sparq_binding {

enum class Held { packed, plan, device };

void held_add(Napi::Env env, Held kind, int64_t bytes);
void held_remove(Napi::Env env, Held kind, int64_t bytes);

}  // namespace sparq_binding
