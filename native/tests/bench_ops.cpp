// Op kernel timings on BERT-base-sized tensors (one thread): scalar vs AVX-512 table for the hot
// float ops, and the data movement / int8 ops. Prints microseconds per call (best of reps).
#include <algorithm>
#include <cstdio>
#include <vector>

#include "bench_timing.h"
#include "check.h"
#include "sparq/ops.h"
#include "sparq/sgemm.h"

int main() {
  using namespace sparq;
  const int64_t S = 128, H = 768, F = 3072;
  auto x = sparq_test::random_vector(static_cast<size_t>(S * F), 1, -4, 4);
  std::vector<float> y(x.size());
  auto bias = sparq_test::random_vector(static_cast<size_t>(F), 2);
  std::vector<Isa> isas = {Isa::scalar};
  if (isa_supported(Isa::avx2)) isas.push_back(Isa::avx2);
  if (isa_supported(Isa::avx512)) isas.push_back(Isa::avx512);
  std::printf("%-34s", "op (us per call, 1 thread)");
  for (Isa i : isas) std::printf(" %10s", isa_name(i));
  std::printf("\n");
  auto row = [&](const char* name, auto&& fn) {
    std::printf("%-34s", name);
    for (Isa i : isas) {
      OpContext c;
      c.isa = i;
      std::printf(" %10.1f", 1e6 * sparq_test::best_seconds([&] { fn(c); }, 30));
    }
    std::printf("\n");
  };
  for (auto [op, name] : {std::pair<UnaryOp, const char*>{UnaryOp::gelu, "Gelu 128x3072"}, {UnaryOp::erf, "Erf 128x3072"},
                          {UnaryOp::tanh, "Tanh 128x3072"}, {UnaryOp::exp, "Exp 128x3072"},
                          {UnaryOp::sigmoid, "Sigmoid 128x3072"}, {UnaryOp::sqrt, "Sqrt 128x3072"}})
    row(name, [&](const OpContext& c) { unary(op, DType::float32, x.data(), y.data(), S * F, c); });
  row("Add bias 128x3072 + 3072", [&](const OpContext& c) {
    binary(BinaryOp::add, DType::float32, x.data(), Shape{S, F}, bias.data(), Shape{F}, y.data(), c);
  });
  row("Mul 128x768 * 128x768", [&](const OpContext& c) {
    binary(BinaryOp::mul, DType::float32, x.data(), Shape{S, H}, x.data() + S * H, Shape{S, H}, y.data(), c);
  });
  row("Softmax 12x128x128", [&](const OpContext& c) { softmax(x.data(), y.data(), 12 * 128, 128, 1, false, c); });
  row("LayerNorm 128x768", [&](const OpContext& c) {
    layer_norm(x.data(), y.data(), S, H, bias.data(), bias.data(), 1e-12f, nullptr, nullptr, c);
  });
  const int64_t perm[] = {0, 2, 1, 3}, perm2[] = {0, 1, 3, 2};
  row("Transpose [1,128,12,64] 0213", [&](const OpContext& c) {
    transpose(DType::float32, x.data(), Shape{1, S, 12, 64}, perm, y.data(), c);
  });
  row("Transpose [1,12,128,64] 0132", [&](const OpContext& c) {
    transpose(DType::float32, x.data(), Shape{1, 12, S, 64}, perm2, y.data(), c);
  });
  std::vector<uint8_t> q(static_cast<size_t>(S * F));
  row("DynamicQuantizeLinear 128x768", [&](const OpContext& c) {
    float s;
    uint8_t z;
    dynamic_quantize_linear(x.data(), S * H, q.data(), &s, &z, c);
  });
  std::vector<int8_t> w(static_cast<size_t>(H * H), 3);
  std::vector<int32_t> acc(static_cast<size_t>(S * H));
  row("MatMulInteger 128x768x768", [&](const OpContext& c) {
    const uint8_t za = 128;
    matmul_integer(DType::uint8, q.data(), Shape{S, H}, DType::int8, w.data(), Shape{H, H}, &za, 1, nullptr, 0,
                   acc.data(), c);
  });
  // Attention, BERT-base head layout (S=128, 12 heads of 64), from [1, S, 768] projections: the
  // unfused op chain an exported graph runs vs the fused kernel.
  {
    const int64_t NH = 12, D = 64;
    auto qkv = sparq_test::random_vector(static_cast<size_t>(3 * S * H), 5);
    const float* qp = qkv.data();
    const float* kp = qp + S * H;
    const float* vp = kp + S * H;
    std::vector<float> mask(static_cast<size_t>(S), 0.0f), qt(S * H), kt(S * H), vt(S * H), sc(NH * S * S), ctxo(S * H),
        out(S * H);
    const int64_t p0213[] = {0, 2, 1, 3}, p0231[] = {0, 2, 3, 1};
    const float div = 8.0f;
    row("Attention unfused (8 ops)", [&](const OpContext& c) {
      transpose(DType::float32, qp, Shape{1, S, NH, D}, p0213, qt.data(), c);
      transpose(DType::float32, kp, Shape{1, S, NH, D}, p0231, kt.data(), c);
      transpose(DType::float32, vp, Shape{1, S, NH, D}, p0213, vt.data(), c);
      matmul_f32(qt.data(), Shape{1, NH, S, D}, kt.data(), Shape{1, NH, D, S}, sc.data(), c.threads, nullptr, c.isa);
      binary(BinaryOp::div, DType::float32, sc.data(), Shape{1, NH, S, S}, &div, Shape{}, sc.data(), c);
      binary(BinaryOp::add, DType::float32, sc.data(), Shape{1, NH, S, S}, mask.data(), Shape{1, 1, 1, S}, sc.data(), c);
      softmax(sc.data(), sc.data(), NH * S, S, 1, false, c);
      matmul_f32(sc.data(), Shape{1, NH, S, S}, vt.data(), Shape{1, NH, S, D}, ctxo.data(), c.threads, nullptr, c.isa);
      transpose(DType::float32, ctxo.data(), Shape{1, NH, S, D}, p0213, out.data(), c);
    });
    const AttentionStrides st{S * H, D, H};
    row("Attention fused", [&](const OpContext& c) {
      attention(1, NH, S, S, D, 0.125f, qp, st, kp, st, vp, st, mask.data(), {S, 0, 0}, out.data(), st, c);
    });
  }
  return 0;
}
