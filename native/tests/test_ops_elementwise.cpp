// Element-wise ops (ops.h): binary with broadcasting for every dtype, comparisons, Where, Expand,
// unary float ops on every ISA against libm, Clip. Outputs NaN-prefilled; NaN inputs included.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops_testing.h"
#include "sparq/cpu.h"

using namespace sparq_test;
using sparq::BinaryOp;
using sparq::DType;
using sparq::Shape;
using sparq::UnaryOp;

namespace {

const Shape kShapePairs[][2] = {
    {{17}, {17}},          {{2, 3, 33}, {2, 3, 33}}, {{4, 1, 5}, {3, 1}},   {{1}, {7, 19}},
    {{7, 19}, {}},          {{2, 3, 1}, {1, 3, 40}},  {{5, 1, 1, 6}, {4, 1}}, {{3, 0, 2}, {2}},
    {{1031}, {1, 1031}},    {{6, 1}, {1, 35}},        {{2, 1, 3, 1}, {1, 4, 1, 17}},
};

double ref_binary(BinaryOp op, double a, double b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
    case BinaryOp::pow: return std::pow(a, b);
    case BinaryOp::max: return (std::isnan(a) || std::isnan(b)) ? NAN : std::max(a, b);
    case BinaryOp::min: return (std::isnan(a) || std::isnan(b)) ? NAN : std::min(a, b);
    case BinaryOp::equal: return a == b;
    case BinaryOp::less: return a < b;
    case BinaryOp::greater: return a > b;
    case BinaryOp::less_equal: return a <= b;
    default: return a >= b;
  }
}

std::vector<float> with_specials(size_t n, uint32_t seed, float lo, float hi) {
  auto v = random_vector(n, seed, lo, hi);
  if (n > 3) {
    v[1] = NAN;
    v[n / 2] = 0.0f;
  }
  return v;
}

}  // namespace

TEST(binary_float_broadcasting_every_op_every_isa) {
  uint32_t seed = 1;
  for (const auto& pair : kShapePairs)
    for (int swap = 0; swap < 2; ++swap) {
      const Shape& as = pair[swap], &bs = pair[1 - swap];
      const Shape out = sparq::broadcast_shapes(as, bs);
      auto a = with_specials(static_cast<size_t>(as.numel()), seed++, -2, 2);
      auto b = with_specials(static_cast<size_t>(bs.numel()), seed++, 0.5f, 3);
      for (int opi = 0; opi <= static_cast<int>(BinaryOp::min); ++opi) {
        const auto op = static_cast<BinaryOp>(opi);
        for (sparq::Isa isa : sparq::available_isas())
          for (int threads : {1, 3}) {
            auto got = nan_filled(static_cast<size_t>(out.numel()));
            sparq::binary(op, DType::float32, a.data(), as, b.data(), bs, got.data(), ctx_for(isa, threads));
            int bad = 0;
            for (int64_t i = 0; i < out.numel(); ++i) {
              const double w = ref_binary(op, a[broadcast_index(out, as, i)], b[broadcast_index(out, bs, i)]);
              bad += !close(got[i], static_cast<float>(w), 1e-6, 0);
            }
            CHECK_MSG(bad == 0, "op %d %s x %s on %s: %d wrong", opi, as.str().c_str(), bs.str().c_str(),
                      sparq::isa_name(isa), bad);
          }
      }
    }
}

TEST(binary_large_tensor_multithreaded_and_pow_square) {
  const Shape as{300, 700}, bs{700};
  auto a = random_vector(300 * 700, 3), b = random_vector(700, 4);
  std::vector<float> two{2.0f};
  for (sparq::Isa isa : sparq::available_isas()) {
    auto got = nan_filled(a.size());
    sparq::binary(BinaryOp::mul, DType::float32, a.data(), as, b.data(), bs, got.data(), ctx_for(isa, 0));
    bool ok = true;
    for (int64_t i = 0; i < 300 * 700; ++i) ok = ok && got[i] == a[i] * b[i % 700];
    CHECK(ok);
    sparq::binary(BinaryOp::pow, DType::float32, a.data(), as, two.data(), Shape{}, got.data(), ctx_for(isa, 2));
    ok = true;
    for (int64_t i = 0; i < 300 * 700; ++i) ok = ok && got[i] == std::pow(a[i], 2.0f);
    CHECK(ok);
    // In place: out aliases a.
    auto c = a;
    sparq::binary(BinaryOp::add, DType::float32, c.data(), as, b.data(), bs, c.data(), ctx_for(isa, 2));
    ok = true;
    for (int64_t i = 0; i < 300 * 700; ++i) ok = ok && c[i] == a[i] + b[i % 700];
    CHECK(ok);
  }
}

TEST(binary_integers_wrap_truncate_and_reject_zero_division) {
  const int64_t big = std::numeric_limits<int64_t>::max(), small = std::numeric_limits<int64_t>::min();
  std::vector<int64_t> a{7, -7, 7, -7, big, small, 5}, b{2, 2, -2, -2, 1, -1, 5};
  const Shape s{7};
  std::vector<int64_t> y(7, 99);
  sparq::binary(BinaryOp::div, DType::int64, a.data(), s, b.data(), s, y.data());
  CHECK((y == std::vector<int64_t>{3, -3, -3, 3, big, small, 1}));
  sparq::binary(BinaryOp::add, DType::int64, a.data(), s, b.data(), s, y.data());
  CHECK(y[4] == small && y[0] == 9);  // max + 1 wraps
  sparq::binary(BinaryOp::sub, DType::int64, a.data(), s, b.data(), s, y.data());
  CHECK(y[5] == small + 1 && y[1] == -9);
  std::vector<int64_t> one{1};
  sparq::binary(BinaryOp::sub, DType::int64, &small, Shape{}, one.data(), Shape{1}, y.data());
  CHECK(y[0] == big);  // min - 1 wraps
  std::vector<int32_t> a32{1, 2, 3, 4, 5, 6}, b32{10, 20, 30};
  std::vector<int32_t> y32(6, -1);
  sparq::binary(BinaryOp::mul, DType::int32, a32.data(), Shape{2, 3}, b32.data(), Shape{3}, y32.data());
  CHECK((y32 == std::vector<int32_t>{10, 40, 90, 40, 100, 180}));
  std::vector<int64_t> zero{3, 0};
  std::vector<int64_t> out(2, 42);
  CHECK(error_code([&] { sparq::binary(BinaryOp::div, DType::int64, a.data(), Shape{2}, zero.data(), Shape{2}, out.data()); }) ==
        "ERR_DIVISION_BY_ZERO");
  CHECK(out[0] == 42 && out[1] == 42);  // nothing written
  CHECK(error_code([&] { sparq::binary(BinaryOp::pow, DType::int64, a.data(), s, b.data(), s, y.data()); }) ==
        "ERR_UNSUPPORTED_DTYPE");
  CHECK(error_code([&] { sparq::binary(BinaryOp::add, DType::uint8, a.data(), s, b.data(), s, y.data()); }) ==
        "ERR_UNSUPPORTED_DTYPE");
  CHECK(error_code([&] { sparq::binary(BinaryOp::add, DType::int64, a.data(), Shape{7}, b.data(), Shape{3}, y.data()); }) ==
        "ERR_SHAPE_MISMATCH");
}

TEST(comparisons_give_bool_and_are_false_for_nan) {
  uint32_t seed = 20;
  for (const auto& pair : kShapePairs) {
    const Shape& as = pair[0], &bs = pair[1];
    const Shape out = sparq::broadcast_shapes(as, bs);
    auto a = with_specials(static_cast<size_t>(as.numel()), seed++, -2, 2);
    auto b = with_specials(static_cast<size_t>(bs.numel()), seed++, -2, 2);
    for (auto& v : a) v = std::round(v);  // ties happen
    for (auto& v : b) v = std::round(v);
    std::vector<int64_t> ai(a.size()), bi(b.size());
    for (size_t i = 0; i < a.size(); ++i) ai[i] = std::isnan(a[i]) ? 5 : static_cast<int64_t>(a[i]);
    for (size_t i = 0; i < b.size(); ++i) bi[i] = std::isnan(b[i]) ? 5 : static_cast<int64_t>(b[i]);
    for (int opi = static_cast<int>(BinaryOp::equal); opi <= static_cast<int>(BinaryOp::greater_equal); ++opi) {
      const auto op = static_cast<BinaryOp>(opi);
      std::vector<uint8_t> got(static_cast<size_t>(out.numel()), 7), goti(got.size(), 7);
      sparq::binary(op, DType::float32, a.data(), as, b.data(), bs, got.data());
      sparq::binary(op, DType::int64, ai.data(), as, bi.data(), bs, goti.data());
      int bad = 0;
      for (int64_t i = 0; i < out.numel(); ++i) {
        const int64_t ia = broadcast_index(out, as, i), ib = broadcast_index(out, bs, i);
        bad += got[i] != static_cast<uint8_t>(ref_binary(op, a[ia], b[ib]));
        bad += goti[i] != static_cast<uint8_t>(ref_binary(op, static_cast<double>(ai[ia]), static_cast<double>(bi[ib])));
      }
      CHECK_MSG(bad == 0, "cmp %d %s x %s: %d wrong", opi, as.str().c_str(), bs.str().c_str(), bad);
    }
  }
  std::vector<uint8_t> m{0, 1, 1, 0}, zero{0}, y(4, 9);
  sparq::binary(BinaryOp::equal, DType::boolean, m.data(), Shape{4}, zero.data(), Shape{1}, y.data());
  CHECK((y == std::vector<uint8_t>{1, 0, 0, 1}));
}

TEST(where_and_expand_broadcast_any_dtype) {
  const Shape cs{2, 1, 5}, xs{3, 1}, ys{1};
  const Shape out = sparq::where_output_shape(cs, xs, ys);
  CHECK((out == Shape{2, 3, 5}));
  std::vector<uint8_t> c(10);
  for (size_t i = 0; i < c.size(); ++i) c[i] = (i * 7) % 3 == 0;
  std::vector<int64_t> x{10, 20, 30}, yv{-1}, got(30, 0);
  std::vector<float> xf{1.5f, 2.5f, 3.5f}, yf{-1.0f}, gotf = nan_filled(30);
  for (int threads : {1, 2}) {
    sparq::where(DType::int64, c.data(), cs, x.data(), xs, yv.data(), ys, got.data(), ctx_for(sparq::active_isa(), threads));
    sparq::where(DType::float32, c.data(), cs, xf.data(), xs, yf.data(), ys, gotf.data());
    int bad = 0;
    for (int64_t i = 0; i < 30; ++i) {
      const bool cv = c[broadcast_index(out, cs, i)];
      bad += got[i] != (cv ? x[broadcast_index(out, xs, i)] : -1);
      bad += gotf[i] != (cv ? xf[broadcast_index(out, xs, i)] : -1.0f);
    }
    CHECK(bad == 0);
  }
  // Expand [3, 1] -> [2, 3, 4] for 1-, 4- and 8-byte types.
  const Shape in{3, 1}, to{2, 3, 4};
  std::vector<uint8_t> b8{1, 2, 3}, r8(24, 0);
  std::vector<int64_t> i64{7, 8, 9}, r64(24, 0);
  sparq::expand(DType::uint8, b8.data(), in, r8.data(), to);
  sparq::expand(DType::int64, i64.data(), in, r64.data(), to);
  int bad = 0;
  for (int64_t i = 0; i < 24; ++i) bad += r8[i] != b8[broadcast_index(to, in, i)] || r64[i] != i64[broadcast_index(to, in, i)];
  CHECK(bad == 0);
  CHECK(error_code([&] { sparq::expand(DType::uint8, b8.data(), in, r8.data(), Shape{2, 4}); }) == "ERR_SHAPE_MISMATCH");
  CHECK(error_code([&] { sparq::where(DType::int64, c.data(), Shape{2, 2}, x.data(), xs, yv.data(), ys, got.data()); }) ==
        "ERR_SHAPE_MISMATCH");
}

TEST(large_where_expand_cast_split_across_threads) {
  // Sizes past the one-thread threshold, with chunk edges falling inside broadcast rows.
  const Shape cs{1, 333, 1}, xs{3, 1, 701}, ys{1};
  const Shape out = sparq::where_output_shape(cs, xs, ys);
  std::vector<uint8_t> c(333);
  for (size_t i = 0; i < c.size(); ++i) c[i] = (i % 5) != 0;
  auto x = random_vector(3 * 701, 8);
  const float yv = -7.0f;
  for (int threads : {0, 2, 3}) {
    auto got = nan_filled(static_cast<size_t>(out.numel()));
    sparq::where(DType::float32, c.data(), cs, x.data(), xs, &yv, ys, got.data(), ctx_for(sparq::active_isa(), threads));
    int bad = 0;
    for (int64_t i = 0; i < out.numel(); ++i)
      bad += got[i] != (c[broadcast_index(out, cs, i)] ? x[broadcast_index(out, xs, i)] : yv);
    CHECK_MSG(bad == 0, "where threads=%d: %d wrong", threads, bad);
    auto ex = nan_filled(static_cast<size_t>(out.numel()));
    sparq::expand(DType::float32, x.data(), xs, ex.data(), out, ctx_for(sparq::active_isa(), threads));
    bad = 0;
    for (int64_t i = 0; i < out.numel(); ++i) bad += ex[i] != x[broadcast_index(out, xs, i)];
    CHECK_MSG(bad == 0, "expand threads=%d: %d wrong", threads, bad);
    std::vector<int64_t> as_int(static_cast<size_t>(out.numel()), 99);
    sparq::cast(DType::float32, DType::int64, ex.data(), as_int.data(), out.numel(), ctx_for(sparq::active_isa(), threads));
    bad = 0;
    for (int64_t i = 0; i < out.numel(); ++i) bad += as_int[i] != static_cast<int64_t>(ex[i]);
    CHECK_MSG(bad == 0, "cast threads=%d: %d wrong", threads, bad);
    std::vector<float> sig(static_cast<size_t>(out.numel())), one(sig.size());
    sparq::unary(UnaryOp::sigmoid, DType::float32, ex.data(), sig.data(), out.numel(), ctx_for(sparq::active_isa(), threads));
    sparq::unary(UnaryOp::sigmoid, DType::float32, ex.data(), one.data(), out.numel(), ctx_for(sparq::active_isa(), 1));
    CHECK(sig == one);
  }
}

TEST(unary_float_ops_match_libm_every_isa) {
  // A sweep over the interesting range plus special values, at an odd length (masked tails).
  std::vector<float> x;
  for (int i = 0; i < 4001; ++i) x.push_back(-20.0f + 40.0f * static_cast<float>(i) / 4000.0f);
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 3e-4f, -3e-4f, 1e-5f, 0.5f, 88.0f, 88.8f, -87.0f, -100.0f, -104.5f,
                  150.0f, -150.0f, INFINITY, -INFINITY, NAN, 1e-45f})
    x.push_back(v);
  auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  auto gelu = [](double v) { return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))); };
  auto gelu_tanh = [](double v) { return 0.5 * v * (1.0 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v))); };
  struct OpRef {
    UnaryOp op;
    double (*ref)(double);
    double rel, abs;
  };
  const OpRef ops[] = {
      {UnaryOp::neg, [](double v) { return -v; }, 0, 0},
      {UnaryOp::abs, [](double v) { return std::fabs(v); }, 0, 0},
      {UnaryOp::sqrt, [](double v) { return std::sqrt(v); }, 1e-7, 0},
      {UnaryOp::exp, [](double v) { return std::exp(v); }, 4e-7, 1e-44},
      {UnaryOp::log, [](double v) { return std::log(v); }, 4e-7, 1e-7},
      {UnaryOp::erf, [](double v) { return std::erf(v); }, 1e-6, 5e-7},
      {UnaryOp::tanh, [](double v) { return std::tanh(v); }, 1e-6, 1e-9},
      {UnaryOp::relu, [](double v) { return std::isnan(v) ? v : std::max(v, 0.0); }, 0, 0},
      {UnaryOp::reciprocal, [](double v) { return 1.0 / v; }, 1e-7, 0},
      {UnaryOp::floor, [](double v) { return std::floor(v); }, 0, 0},
      {UnaryOp::ceil, [](double v) { return std::ceil(v); }, 0, 0},
  };
  for (sparq::Isa isa : sparq::available_isas()) {
    for (const OpRef& o : ops) {
      auto y = nan_filled(x.size());
      sparq::unary(o.op, DType::float32, x.data(), y.data(), static_cast<int64_t>(x.size()), ctx_for(isa));
      int bad = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        const double w = o.ref(x[i]);
        if (!close(y[i], static_cast<float>(w), o.rel, o.abs)) {
          if (bad < 3) std::printf("    op %d x=%g got %.9g want %.9g\n", static_cast<int>(o.op), x[i], y[i], w);
          ++bad;
        }
      }
      CHECK_MSG(bad == 0, "unary op %d on %s: %d wrong", static_cast<int>(o.op), sparq::isa_name(isa), bad);
    }
    for (auto [op, tol] : {std::pair<UnaryOp, double>{UnaryOp::sigmoid, 1e-6}, {UnaryOp::gelu, 2e-6}, {UnaryOp::gelu_tanh, 2e-6}}) {
      auto y = nan_filled(x.size());
      sparq::unary(op, DType::float32, x.data(), y.data(), static_cast<int64_t>(x.size()), ctx_for(isa, 2));
      int bad = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        const double v = x[i];
        const double w = op == UnaryOp::sigmoid ? sig(v) : op == UnaryOp::gelu ? gelu(v) : gelu_tanh(v);
        const bool inf_gelu = std::isinf(v) && op != UnaryOp::sigmoid;  // inf·(1+1) or -inf·0 = NaN: either is fine
        if (!inf_gelu && !close(y[i], static_cast<float>(w), tol, op == UnaryOp::sigmoid ? 1e-30 : 1e-6)) {
          if (bad < 3) std::printf("    op %d x=%g got %.9g want %.9g\n", static_cast<int>(op), x[i], y[i], w);
          ++bad;
        }
      }
      CHECK_MSG(bad == 0, "unary op %d on %s: %d wrong", static_cast<int>(op), sparq::isa_name(isa), bad);
    }
  }
}

TEST(unary_integers_and_clip) {
  std::vector<int64_t> v{-3, 0, 5, std::numeric_limits<int64_t>::min()}, y(4);
  sparq::unary(UnaryOp::abs, DType::int64, v.data(), y.data(), 4);
  CHECK((y == std::vector<int64_t>{3, 0, 5, std::numeric_limits<int64_t>::min()}));
  sparq::unary(UnaryOp::relu, DType::int64, v.data(), y.data(), 4);
  CHECK((y == std::vector<int64_t>{0, 0, 5, 0}));
  CHECK(error_code([&] { sparq::unary(UnaryOp::exp, DType::int64, v.data(), y.data(), 4); }) == "ERR_UNSUPPORTED_DTYPE");
  std::vector<float> f{-2.0f, -0.5f, 0.5f, 2.0f, NAN}, fy = nan_filled(5);
  const float lo = -1.0f, hi = 1.0f;
  sparq::clip(DType::float32, f.data(), fy.data(), 5, &lo, &hi);
  CHECK(fy[0] == -1.0f && fy[1] == -0.5f && fy[2] == 0.5f && fy[3] == 1.0f && std::isnan(fy[4]));
  sparq::clip(DType::float32, f.data(), fy.data(), 5, nullptr, &lo);
  CHECK(fy[0] == -2.0f && fy[3] == -1.0f);
  const int32_t ilo = 0;
  std::vector<int32_t> iv{-5, 3}, iy(2);
  sparq::clip(DType::int32, iv.data(), iy.data(), 2, &ilo, nullptr);
  CHECK(iy[0] == 0 && iy[1] == 3);
  CHECK(error_code([&] { sparq::clip(DType::uint8, iv.data(), iy.data(), 2, nullptr, nullptr); }) == "ERR_UNSUPPORTED_DTYPE");
}

TEST_MAIN()
