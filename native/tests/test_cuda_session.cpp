// A session on the GPU through the C++ API (what InferenceSession.create(model, { device: 'cuda' }) sets
// up, runnable on a GPU host without Node): one SessionStream per session, every linear layer packed
// "cuda-auto" onto it, the plan executor running the chain with a CPU op between the GPU layers, against
// the same plan on the CPU's fp32 "dense" weights. Also: the format choice (host only, runs anywhere),
// staging reuse across input sizes, concurrent runs, and the errors without a device. Built only with
// -DSPARQ_CUDA=ON; the device cases are skipped with a message where there is no CUDA device.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "cuda_test_main.h"
#include "ops_testing.h"
#include "plan_testing.h"
#include "sparq/cuda.h"
#include "sparq/error.h"
#include "sparq/packed.h"
#include "sparq/plan.h"

namespace cu = sparq::cuda;
using sparq::OpCode;
using sparq::PlanOp;
using sparq::PlanSlot;
using sparq::Shape;
using sparq::SlotKind;
using sparq_test::error_code;
using sparq_test::op;
using sparq_test::random_vector;
using sparq_test::slot;

namespace {

// W[K][N] with `keep` of each column's weights kept at random.
std::vector<float> pruned(int64_t K, int64_t N, uint32_t seed, float keep) {
  auto W = random_vector(static_cast<size_t>(K * N), seed);
  auto r = random_vector(static_cast<size_t>(K * N), seed + 1, 0.0f, 1.0f);
  for (size_t i = 0; i < W.size(); ++i)
    if (r[i] >= keep) W[i] = 0.0f;
  return W;
}

// W[K][N] keeping 2 of every 4 consecutive k of each column (which two varies).
std::vector<float> two_of_four(int64_t K, int64_t N, uint32_t seed) {
  auto W = random_vector(static_cast<size_t>(K * N), seed);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n)
      if ((k + n) % 4 >= 2) W[k * N + n] = 0.0f;
  return W;
}

// y = gelu((tanh(relu(x·W1 + b1))·W2 + b2)·W3 + b3): three linear layers, a CPU op between the first two.
// W1 dense, W2 90% zeros, W3 2:4 along K and treated as quantize()d (int8).
struct Chain {
  int64_t K = 200, H = 264, N = 72;
  std::vector<float> W1 = random_vector(static_cast<size_t>(K * H), 11), W2 = pruned(H, H, 12, 0.1f), W3 = two_of_four(H, N, 14);
  std::vector<float> b1 = random_vector(static_cast<size_t>(H), 15), b2 = random_vector(static_cast<size_t>(H), 16),
                     b3 = random_vector(static_cast<size_t>(N), 17);
  std::shared_ptr<sparq::PackedWeights> w1, w2, w3;

  // Packs the three layers: "dense" on the CPU, or "cuda-auto" on `device` (the session's stream).
  void pack(const std::shared_ptr<sparq::DeviceContext>& device) {
    sparq::PackOptions opts;
    opts.device = device;
    const std::string f = device ? "cuda-auto" : "dense";
    w1 = sparq::pack_weights(f, W1.data(), K, H, opts);
    w2 = sparq::pack_weights(f, W2.data(), H, H, opts);
    opts.numbers["int8"] = 1;
    w3 = sparq::pack_weights(f, W3.data(), H, N, opts);
  }

  std::unique_ptr<sparq::Plan> plan(int64_t M) const {
    const int64_t A = (M * H * 4 + 63) / 64 * 64;
    std::vector<PlanSlot> slots = {
        slot({M, K}, SlotKind::input, 0),  slot({H}, SlotKind::constant, 0), slot({H}, SlotKind::constant, 1),
        slot({N}, SlotKind::constant, 2),  slot({M, H}, SlotKind::arena, 0), slot({M, H}, SlotKind::arena, A),
        slot({M, H}, SlotKind::arena, 0),  slot({M, N}, SlotKind::output, 0),
    };
    std::vector<PlanOp> ops;
    ops.push_back(op(OpCode::linear, {0, 1}, {4}, {static_cast<int64_t>(sparq::Activation::relu)}));
    ops.back().weights = w1;
    ops.push_back(op(OpCode::tanh, {4}, {5}));
    ops.push_back(op(OpCode::linear, {5, 2}, {6}, {static_cast<int64_t>(sparq::Activation::none)}));
    ops.back().weights = w2;
    ops.push_back(op(OpCode::linear, {6, 3}, {7}, {static_cast<int64_t>(sparq::Activation::gelu)}));
    ops.back().weights = w3;
    std::vector<sparq::ConstantRef> constants = {{b1.data(), b1.size() * 4}, {b2.data(), b2.size() * 4}, {b3.data(), b3.size() * 4}};
    return std::make_unique<sparq::Plan>(std::move(slots), std::move(ops), std::move(constants), static_cast<size_t>(2 * A), 1, 1);
  }

  std::vector<float> run(const sparq::Plan& p, const std::vector<float>& x, int64_t M) const {
    std::vector<float> y = sparq_test::nan_filled(static_cast<size_t>(M * N));
    const void* in[] = {x.data()};
    void* out[] = {y.data()};
    p.run(in, out, 1);
    return y;
  }
};

// Largest |got - want| over (largest |want| + 1): fp16 and int8 arithmetic stay well inside 3e-2 here;
// a wrong kernel, layout or stale staging does not. NaN (an unwritten output) fails.
double relative_error(const std::vector<float>& got, const std::vector<float>& want) {
  double worst = 0, peak = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(got[i])) return INFINITY;
    worst = std::max(worst, std::fabs(static_cast<double>(got[i]) - want[i]));
    peak = std::max(peak, std::fabs(static_cast<double>(want[i])));
  }
  return worst / (peak + 1.0);
}

}  // namespace

// The choice "cuda-auto" (and so a device: 'cuda' session) makes, per weight. Host only.
TEST(host_choose_device_format) {
  using F = cu::DeviceFormat;
  const int64_t K = 128, N = 40;
  auto dense = random_vector(static_cast<size_t>(K * N), 1);
  auto sparse = pruned(K, N, 2, 0.1f);
  auto half = pruned(K, N, 3, 0.5f);
  auto tf = two_of_four(K, N, 4);
  auto very_sparse = pruned(K, N, 5, 0.05f);
  // 1x4 blocks along K: 20% of the blocks kept, full.
  auto blocks = random_vector(static_cast<size_t>(K * N), 6);
  auto r = random_vector(static_cast<size_t>(K / 4 * N), 7, 0.0f, 1.0f);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n)
      if (r[static_cast<size_t>(k / 4 * N + n)] >= 0.2f) blocks[static_cast<size_t>(k * N + n)] = 0.0f;
  CHECK(cu::choose_device_format(dense.data(), K, N, false, true) == F::f16);
  CHECK(cu::choose_device_format(half.data(), K, N, false, true) == F::f16);
  CHECK(cu::choose_device_format(tf.data(), K, N, false, true) == F::f16);  // fp32 2:4: no int8 unasked
  CHECK(cu::choose_device_format(sparse.data(), K, N, false, true) == F::sparse_f16);
  CHECK(cu::choose_device_format(blocks.data(), K, N, false, true) == F::block_f16);
  CHECK(cu::choose_device_format(dense.data(), K, N, true, true) == F::int8);
  CHECK(cu::choose_device_format(tf.data(), K, N, true, true) == F::int8_2to4);
  CHECK(cu::choose_device_format(tf.data(), K, N, true, false) == F::int8);  // no known mma.sp layout
  CHECK(cu::choose_device_format(half.data(), K, N, true, true) == F::int8);  // 50% zeros, not 2:4
  CHECK(cu::choose_device_format(very_sparse.data(), K, N, true, false) == F::sparse_f16);
  // An odd K: the tail group of 3 counts too (2 of 3 kept is still 2:4 once padded).
  std::vector<float> odd(static_cast<size_t>(7 * 2), 0.0f);
  odd[0] = odd[2] = odd[8] = odd[10] = 1.0f;  // k = 0, 1 (group 0) and k = 4, 5 (tail group), column 0
  CHECK(cu::choose_device_format(odd.data(), 7, 2, true, true) == F::int8_2to4);
  odd[12] = 1.0f;  // k = 6: three in the tail group
  CHECK(cu::choose_device_format(odd.data(), 7, 2, true, true) != F::int8_2to4);
}

// Without a device: a session stream can't be made and no cuda-* format exists, each with a clear code.
TEST(host_session_without_device) {
  if (cu::device_info().available) return;  // (the device cases cover this host)
  CHECK(error_code([] { cu::SessionStream s; }) == "ERR_CUDA_UNAVAILABLE");
  CHECK(!cu::register_formats());
  std::vector<float> W(16, 1.0f);
  CHECK(error_code([&] { sparq::pack_weights("cuda-auto", W.data(), 4, 4, {}); }) == "ERR_INVALID_ARGUMENT");
}

TEST(cuda_session_chain) {
  CHECK(cu::register_formats());
  Chain gpu, cpu;
  auto session = std::make_shared<cu::SessionStream>();
  CHECK(session->stream() != nullptr);  // its own stream, not the legacy default one
  gpu.pack(session);
  cpu.pack(nullptr);
  CHECK(std::string(gpu.w1->format()) == "cuda-f16");
  CHECK(std::string(gpu.w2->format()) == "cuda-sparse");
  const char* want3 = cu::sparse24_meta_layout() >= 0 ? "cuda-2:4" : "cuda-int8";
  CHECK_MSG(std::string(gpu.w3->format()) == want3, "W3 packed as %s, expected %s", gpu.w3->format(), want3);
  CHECK(session.use_count() == 4);  // the three matrices share the session's stream and staging

  // Sizes that grow and shrink the shared staging; each plan built once, like a session's plan cache.
  std::vector<std::vector<float>> first;
  const int64_t sizes[] = {1, 64, 5, 129};
  for (int pass = 0; pass < 2; ++pass)
    for (size_t i = 0; i < 4; ++i) {
      const int64_t M = sizes[i];
      auto x = random_vector(static_cast<size_t>(M * gpu.K), 100 + static_cast<uint32_t>(M));
      auto got = gpu.run(*gpu.plan(M), x, M);
      auto want = cpu.run(*cpu.plan(M), x, M);
      const double err = relative_error(got, want);
      CHECK_MSG(err <= 3e-2, "M=%lld: GPU chain differs from the CPU by %.3g (relative)", static_cast<long long>(M), err);
      if (pass == 0) first.push_back(got);
      else CHECK_MSG(std::memcmp(got.data(), first[i].data(), got.size() * 4) == 0, "M=%lld: a second run differs", static_cast<long long>(M));
    }
  CHECK(session->bytes() > 0);

  // Concurrent runs of one plan share the session's stream and staging: each must get its own answer.
  const int64_t M = 33;
  auto plan = gpu.plan(M);
  std::vector<std::vector<float>> xs, want;
  for (uint32_t t = 0; t < 4; ++t) {
    xs.push_back(random_vector(static_cast<size_t>(M * gpu.K), 200 + t));
    want.push_back(gpu.run(*plan, xs.back(), M));
  }
  std::vector<int> bad(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int r = 0; r < 5; ++r) {
        auto y = gpu.run(*plan, xs[static_cast<size_t>(t)], M);
        if (std::memcmp(y.data(), want[static_cast<size_t>(t)].data(), y.size() * 4) != 0) ++bad[static_cast<size_t>(t)];
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) CHECK_MSG(bad[static_cast<size_t>(t)] == 0, "thread %d: %d concurrent runs differed", t, bad[static_cast<size_t>(t)]);

  // Released in any order: the matrices keep the stream alive until the last one goes.
  session.reset();
  auto x = random_vector(static_cast<size_t>(M * gpu.K), 300);
  auto y = gpu.run(*plan, x, M);
  CHECK(relative_error(y, cpu.run(*cpu.plan(M), x, M)) <= 3e-2);
}

// A device context that is not a CUDA one is refused, not reinterpreted.
TEST(cuda_session_wrong_context) {
  CHECK(cu::register_formats());
  struct Other final : sparq::DeviceContext {
    const char* kind() const override { return "other"; }
  };
  sparq::PackOptions opts;
  opts.device = std::make_shared<Other>();
  std::vector<float> W(64, 0.5f);
  for (const char* f : {"cuda-f16", "cuda-auto"})
    CHECK_MSG(error_code([&] { sparq::pack_weights(f, W.data(), 8, 8, opts); }) == "ERR_INVALID_ARGUMENT", "%s", f);
}

int main(int argc, char** argv) { return sparq_test::run_cuda_tests(argc, argv); }
