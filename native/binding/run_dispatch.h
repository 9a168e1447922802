// Async work for the binding without libuv's work queue: a job runs on sparq::RunQueue's threads
// (which spin briefly between jobs, so back-to-back runs skip a thread wake-up) and completes on the
// JS thread through one threadsafe function per environment, which resolves or rejects its promise.
// The values passed as `keep` (inputs, outputs, the handle owning constants) stay referenced until
// then. A failure is recorded as sparq's error code and message, as rethrow_native would report it.
#pragma once
#include <napi.h>

#include <functional>
#include <initializer_list>

namespace sparq_binding {

Napi::Promise run_async(Napi::Env env, std::function<void()> work, std::initializer_list<Napi::Value> keep);

}  // namespace sparq_binding
