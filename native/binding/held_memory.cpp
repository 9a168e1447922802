#include "held_memory.h"

#include <atomic>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "binding.h"
#include "sparq/run_queue.h"

namespace sparq_binding {
namespace {

constexpr int kKinds = 3;
std::atomic<int64_t> counts[kKinds];
std::atomic<int64_t> held_bytes{0};

// glibc keeps memory freed in the middle of its heap resident: the top of the heap shrinks only down to
// the highest chunk still in use. When the GC finalizes a batch of forgotten sessions at once, their
// small blocks (plans, indices, the session's C++ objects) were interleaved with others that live on,
// and the freed ones stay in RSS: measured, 1,000 small sessions collected together left 20 MB resident
// of which 0.2 MB was in use (bench/deploy/churn.ts), and the next batch did not always reuse them.
// malloc_trim(0) hands every whole free page back (MADV_DONTNEED, in all arenas). It walks the free
// lists and costs 1-10 ms on such a heap, so it runs once per kTrimEvery bytes given back, and on a run
// queue thread: never on the JS thread, whose finalizers and release() calls led here.
#if defined(__GLIBC__)
constexpr int64_t kTrimEvery = int64_t{8} << 20;
std::atomic<int64_t> freed_since_trim{0};
std::atomic<bool> trim_queued{false};

void trim_after(int64_t bytes) {
  if (freed_since_trim.fetch_add(bytes, std::memory_order_relaxed) + bytes < kTrimEvery) return;
  if (trim_queued.exchange(true)) return;
  freed_since_trim.store(0, std::memory_order_relaxed);
  sparq::RunQueue::global().submit([] {
    malloc_trim(0);
    trim_queued.store(false);
  });
}
#else
void trim_after(int64_t) {}
#endif

Napi::Number count_of(Napi::Env env, Held kind) { return Napi::Number::New(env, static_cast<double>(counts[static_cast<int>(kind)].load())); }

// heldNative() -> { packed, plans, devices, bytes, mallocBytes? }: live handles holding native memory,
// the bytes they reported, and (glibc) the bytes the C heap has handed out in the whole process, every
// arena and every mmapped chunk (mallinfo2): what a leak that no handle counts would show in. The C
// heap is shared with Node and V8, so only its trend means anything (bench/deploy/churn.ts, the
// lifecycle tests).
Napi::Value HeldNative(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("packed", count_of(env, Held::packed));
  o.Set("plans", count_of(env, Held::plan));
  o.Set("devices", count_of(env, Held::device));
  o.Set("bytes", Napi::Number::New(env, static_cast<double>(held_bytes.load())));
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  const struct mallinfo2 m = mallinfo2();
  o.Set("mallocBytes", Napi::Number::New(env, static_cast<double>(m.uordblks + m.hblkhd)));
#endif
  return o;
}

void Init(Napi::Env env, Napi::Object exports) { exports.Set("heldNative", Napi::Function::New(env, HeldNative, "heldNative")); }

}  // namespace

void held_add(Napi::Env env, Held kind, int64_t bytes) {
  counts[static_cast<int>(kind)].fetch_add(1, std::memory_order_relaxed);
  held_bytes.fetch_add(bytes, std::memory_order_relaxed);
  if (bytes != 0) Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
}

void held_remove(Napi::Env env, Held kind, int64_t bytes) {
  counts[static_cast<int>(kind)].fetch_sub(1, std::memory_order_relaxed);
  held_bytes.fetch_sub(bytes, std::memory_order_relaxed);
  if (bytes != 0) Napi::MemoryManagement::AdjustExternalMemory(env, -bytes);
  trim_after(bytes);
}

SPARQ_BINDING_MODULE(held_memory, Init);

}  // namespace sparq_binding
