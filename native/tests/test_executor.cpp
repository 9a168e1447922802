// The plan executor (sparq/plan.h) without Node: a small MLP-with-attention-bits plan against a plain
// reference, arena reuse and aliasing, concurrent runs, and inconsistent plans rejected at
// construction (never an out-of-bounds access at run time).
#include <cmath>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "check.h"
#include "plan_testing.h"
#include "sparq/error.h"
#include "sparq/packed.h"
#include "sparq/plan.h"

using namespace sparq_test;
using sparq::DType;
using sparq::OpCode;
using sparq::PlanOp;
using sparq::PlanSlot;
using sparq::Shape;
using sparq::SlotKind;

namespace {

// y = softmax(relu(x·W + b) + x·W2) over rows, as a plan with arena intermediates:
//   slot 0: x [M, K] input          slot 1: b [N] constant        slot 2: h [M, N] arena @0
//   slot 3: g [M, N] arena          slot 4: s [M, N] arena @0 (reuses h's bytes: h is dead by then)
//   slot 5: y [M, N] output 0       slot 6: y viewed as [M*N] (alias) -> copied to output 1
struct Fixture {
  int64_t M = 5, K = 7, N = 9;
  std::vector<float> W = random_vector(static_cast<size_t>(K * N), 1), W2 = random_vector(static_cast<size_t>(K * N), 2);
  std::vector<float> b = random_vector(static_cast<size_t>(N), 3);
  std::shared_ptr<sparq::PackedWeights> w1 = sparq::pack_weights("dense", W.data(), K, N, {});
  std::shared_ptr<sparq::PackedWeights> w2 = sparq::pack_weights("dense", W2.data(), K, N, {});
  size_t tensor_bytes() const { return static_cast<size_t>(M * N) * 4; }

  std::unique_ptr<sparq::Plan> plan() const {
    const int64_t at = (static_cast<int64_t>(tensor_bytes()) + 63) / 64 * 64;
    std::vector<PlanSlot> slots = {
        slot({M, K}, SlotKind::input, 0),  slot({N}, SlotKind::constant, 0), slot({M, N}, SlotKind::arena, 0),
        slot({M, N}, SlotKind::arena, at), slot({M, N}, SlotKind::arena, 0), slot({M, N}, SlotKind::output, 0),
        slot({M * N}, SlotKind::output, 0), slot({M * N}, SlotKind::output, 1),
    };
    std::vector<PlanOp> ops;
    ops.push_back(op(OpCode::linear, {0, 1}, {2}, {1}));
    ops.back().weights = w1;
    ops.push_back(op(OpCode::linear, {0, -1}, {3}, {0}));
    ops.back().weights = w2;
    ops.push_back(op(OpCode::add, {2, 3}, {4}));
    ops.push_back(op(OpCode::softmax, {4}, {5}, {1, 0}));
    ops.push_back(op(OpCode::copy, {6}, {7}));
    return std::make_unique<sparq::Plan>(std::move(slots), std::move(ops),
                                         std::vector<sparq::ConstantRef>{{b.data(), b.size() * 4}},
                                         static_cast<size_t>(2 * at), 1, 2);
  }

  std::vector<double> reference(const std::vector<float>& x) const {
    std::vector<double> y(static_cast<size_t>(M * N));
    for (int64_t m = 0; m < M; ++m) {
      double mx = -INFINITY;
      for (int64_t n = 0; n < N; ++n) {
        double h = b[static_cast<size_t>(n)], g = 0;
        for (int64_t k = 0; k < K; ++k) {
          h += static_cast<double>(x[static_cast<size_t>(m * K + k)]) * W[static_cast<size_t>(k * N + n)];
          g += static_cast<double>(x[static_cast<size_t>(m * K + k)]) * W2[static_cast<size_t>(k * N + n)];
        }
        y[static_cast<size_t>(m * N + n)] = (h > 0 ? h : 0) + g;
        mx = std::fmax(mx, y[static_cast<size_t>(m * N + n)]);
      }
      double sum = 0;
      for (int64_t n = 0; n < N; ++n) sum += (y[static_cast<size_t>(m * N + n)] = std::exp(y[static_cast<size_t>(m * N + n)] - mx));
      for (int64_t n = 0; n < N; ++n) y[static_cast<size_t>(m * N + n)] /= sum;
    }
    return y;
  }
};

void expect_close(const std::vector<float>& got, const std::vector<double>& want) {
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i) worst = std::isnan(got[i]) ? INFINITY : std::fmax(worst, std::fabs(got[i] - want[i]));
  CHECK_MSG(worst < 1e-5, "max error %g", worst);
}

bool rejects(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const sparq::Error& e) {
    return e.code() == "ERR_INVALID_ARGUMENT" || e.code() == "ERR_SHAPE_MISMATCH";
  }
  return false;
}

}  // namespace

TEST(plan_runs_against_reference_with_arena_reuse_and_aliases) {
  Fixture f;
  auto plan = f.plan();
  CHECK(plan->input_count() == 1 && plan->output_count() == 2);
  std::vector<float> x = random_vector(static_cast<size_t>(f.M * f.K), 4);
  std::vector<float> y = nan_filled(static_cast<size_t>(f.M * f.N)), y2 = nan_filled(y.size());
  const void* ins[] = {x.data()};
  void* outs[] = {y.data(), y2.data()};
  for (int threads : {1, 2, 0}) {
    plan->run(ins, outs, threads);
    expect_close(y, f.reference(x));
    CHECK(std::memcmp(y.data(), y2.data(), y.size() * 4) == 0);
  }
}

TEST(plan_concurrent_runs_use_separate_arenas) {
  Fixture f;
  auto plan = f.plan();
  std::vector<std::thread> threads;
  std::vector<int> ok(8, 0);
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      std::vector<float> x = random_vector(static_cast<size_t>(f.M * f.K), 100 + static_cast<uint32_t>(t));
      const auto want = f.reference(x);
      std::vector<float> y(static_cast<size_t>(f.M * f.N)), y2(y.size());
      const void* ins[] = {x.data()};
      void* outs[] = {y.data(), y2.data()};
      bool good = true;
      for (int r = 0; r < 50; ++r) {
        plan->run(ins, outs, 1);
        for (size_t i = 0; i < want.size(); ++i) good = good && std::fabs(y[i] - want[i]) < 1e-5;
      }
      ok[static_cast<size_t>(t)] = good;
    });
  for (auto& t : threads) t.join();
  for (int v : ok) CHECK(v == 1);
}

TEST(inconsistent_plans_are_rejected) {
  Fixture f;
  using sparq::Plan;
  std::vector<sparq::ConstantRef> consts{{f.b.data(), f.b.size() * 4}};
  auto base_slots = [&] {
    return std::vector<PlanSlot>{slot({f.M, f.K}, SlotKind::input, 0), slot({f.N}, SlotKind::constant, 0),
                                 slot({f.M, f.N}, SlotKind::output, 0)};
  };
  auto linear = [&](std::vector<int32_t> in, std::vector<int32_t> out) {
    PlanOp o = op(OpCode::linear, std::move(in), std::move(out), {0});
    o.weights = f.w1;
    return o;
  };
  // The valid baseline builds.
  Plan ok(base_slots(), {linear({0, 1}, {2})}, consts, 0, 1, 1);
  (void)ok;
  // Arena slot past the arena's end.
  CHECK(rejects([&] {
    auto s = base_slots();
    s.push_back(slot({f.M, f.N}, SlotKind::arena, 64));
    Plan p(s, {linear({0, 1}, {3})}, consts, 64, 1, 1);
  }));
  // Constant smaller than its slot; missing constant.
  CHECK(rejects([&] { Plan p(base_slots(), {}, {{f.b.data(), 8}}, 0, 1, 1); }));
  CHECK(rejects([&] { Plan p(base_slots(), {}, {}, 0, 1, 1); }));
  // Slot ids out of range, writes to an input, wrong K, wrong output size, missing weights.
  CHECK(rejects([&] { Plan p(base_slots(), {linear({0, 1}, {9})}, consts, 0, 1, 1); }));
  CHECK(rejects([&] { Plan p(base_slots(), {linear({0, 1}, {0})}, consts, 0, 1, 1); }));
  CHECK(rejects([&] {
    auto s = base_slots();
    s[0].shape = Shape{f.M, f.K + 1};
    Plan p(s, {linear({0, 1}, {2})}, consts, 0, 1, 1);
  }));
  CHECK(rejects([&] {
    auto s = base_slots();
    s[2].shape = Shape{f.M + 1, f.N};
    Plan p(s, {linear({0, 1}, {2})}, consts, 0, 1, 1);
  }));
  CHECK(rejects([&] { Plan p(base_slots(), {op(OpCode::linear, {0, 1}, {2}, {0})}, consts, 0, 1, 1); }));
  // Element-wise output that isn't the broadcast shape; transpose perm of the wrong length; slice
  // reading past the input; gather with float indices; unknown op code.
  CHECK(rejects([&] { Plan p(base_slots(), {op(OpCode::add, {0, 0}, {2})}, consts, 0, 1, 1); }));
  CHECK(rejects([&] { Plan p(base_slots(), {op(OpCode::transpose, {0}, {2}, {1})}, consts, 0, 1, 1); }));
  CHECK(rejects([&] {
    auto s = base_slots();
    s[2].shape = Shape{f.M, f.K};
    Plan p(s, {op(OpCode::slice, {0}, {2}, {1, 0, 1, 1})}, consts, 0, 1, 1);
  }));
  CHECK(rejects([&] { Plan p(base_slots(), {op(OpCode::gather, {1, 0}, {2}, {0})}, consts, 0, 1, 1); }));
  CHECK(rejects([&] { Plan p(base_slots(), {op(static_cast<OpCode>(99), {0}, {2})}, consts, 0, 1, 1); }));
  // An input or output index without a slot.
  CHECK(rejects([&] { Plan p(base_slots(), {}, consts, 0, 2, 1); }));
}

TEST(data_dependent_errors_surface_as_errors) {
  // Gather with an index out of range: the kernel throws before writing; run() propagates it.
  std::vector<float> table = random_vector(12, 9);
  std::vector<PlanSlot> slots = {slot({4, 3}, SlotKind::constant, 0), slot({2}, SlotKind::input, 0, DType::int64),
                                 slot({2, 3}, SlotKind::output, 0)};
  sparq::Plan plan(slots, {op(OpCode::gather, {0, 1}, {2}, {0})}, {{table.data(), table.size() * 4}}, 0, 1, 1);
  std::vector<int64_t> idx = {1, 4};
  std::vector<float> y(6);
  const void* ins[] = {idx.data()};
  void* outs[] = {y.data()};
  bool threw = false;
  try {
    plan.run(ins, outs, 1);
  } catch (const sparq::Error& e) {
    threw = e.code() == "ERR_INDEX_OUT_OF_RANGE";
  }
  CHECK(threw);
  idx[1] = -1;
  plan.run(ins, outs, 1);
  CHECK(y[3] == table[9] && y[5] == table[11]);
}

TEST_MAIN()
