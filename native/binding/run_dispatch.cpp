#include "run_dispatch.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "binding.h"
#include "sparq/error.h"
#include "sparq/run_queue.h"

namespace sparq_binding {
namespace {

struct Job {
  std::function<void()> work;
  napi_deferred deferred = nullptr;
  std::vector<napi_ref> keep;
  bool failed = false;
  std::string code, message;

  void run() {
    try {
      work();
    } catch (const sparq::Error& e) {
      fail(e.code(), e.what());
    } catch (const std::bad_alloc&) {
      fail("ERR_OUT_OF_MEMORY", "Out of memory in the native core");
    } catch (const std::exception& e) {
      fail("ERR_NATIVE", e.what());
    } catch (...) {
      fail("ERR_NATIVE", "Unknown native error");
    }
    work = nullptr;  // drop what the job captured (the plan) before the JS thread gets to it
  }
  void fail(std::string c, std::string m) {
    failed = true;
    code = std::move(c);
    message = std::move(m);
  }
};

struct Dispatcher;
void complete(Napi::Env env, Napi::Function, Dispatcher* d, Job* job);
using Tsfn = Napi::TypedThreadSafeFunction<Dispatcher, Job, complete>;

// One per environment (the main thread, each worker_threads Worker).
struct Dispatcher {
  Tsfn tsfn;
  int in_flight = 0;  // JS thread only: the threadsafe function keeps the loop alive while > 0
  // Jobs whose native part may still touch tsfn; the environment's teardown waits for them.
  std::mutex m;
  std::condition_variable cv;
  int outstanding = 0;

  void finished_native() {
    std::lock_guard<std::mutex> lock(m);
    if (--outstanding == 0) cv.notify_all();
  }
};

void complete(Napi::Env env, Napi::Function, Dispatcher* d, Job* job) {
  if (env == nullptr) {  // the environment is going away: nothing left to resolve
    delete job;
    return;
  }
  for (napi_ref r : job->keep) napi_delete_reference(env, r);
  if (job->failed)
    napi_reject_deferred(env, job->deferred, error_from_code(env, job->code, job->message).Value());
  else
    napi_resolve_deferred(env, job->deferred, env.Undefined());
  delete job;
  if (--d->in_flight == 0) d->tsfn.Unref(env);
}

// Runs before Node closes the threadsafe function (cleanup hooks run last-registered first): a
// queue thread still running a job of this environment must not call into a closed one.
void teardown(void* arg) {
  auto* d = static_cast<Dispatcher*>(arg);
  {
    std::unique_lock<std::mutex> lock(d->m);
    d->cv.wait(lock, [&] { return d->outstanding == 0; });
  }
  d->tsfn.Release();
}

Dispatcher& dispatcher(Napi::Env env) {
  void*& slot = run_dispatcher_slot(env);
  if (slot) return *static_cast<Dispatcher*>(slot);
  auto* d = new Dispatcher();
  // Freed by the threadsafe function's finalizer, once Node closes it (after teardown released it).
  d->tsfn = Tsfn::New(env, "sparq.run", 0, 1, d, [](Napi::Env, void*, Dispatcher* ctx) { delete ctx; }, static_cast<void*>(nullptr));
  d->tsfn.Unref(env);
  napi_add_env_cleanup_hook(env, teardown, d);
  slot = d;
  return *d;
}

}  // namespace

Napi::Promise run_async(Napi::Env env, std::function<void()> work, std::initializer_list<Napi::Value> keep) {
  Dispatcher& d = dispatcher(env);
  auto* job = new Job();
  job->work = std::move(work);
  napi_value promise;
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok) {
    delete job;
    throw Napi::Error::New(env, "Could not create a promise");
  }
  job->keep.reserve(keep.size());
  for (const Napi::Value& v : keep) {
    napi_ref r;
    napi_create_reference(env, v, 1, &r);
    job->keep.push_back(r);
  }
  if (d.in_flight++ == 0) d.tsfn.Ref(env);
  {
    std::lock_guard<std::mutex> lock(d.m);
    ++d.outstanding;
  }
  Dispatcher* dp = &d;
  sparq::RunQueue::global().submit([dp, job] {
    job->run();
    // Unlimited queue: never blocks. Fails only while the environment closes (then the job is dropped).
    if (dp->tsfn.NonBlockingCall(job) != napi_ok) delete job;
    dp->finished_native();
  });
  return Napi::Promise(env, promise);
}

}  // namespace sparq_binding
