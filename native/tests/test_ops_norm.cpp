// Softmax / LogSoftmax, LayerNormalization and reductions (ops.h) against double-precision
// references, every ISA, contiguous and strided lanes, NaN rows, multithreaded.
#include <algorithm>
#include <cmath>

#include "ops_testing.h"
#include "sparq/cpu.h"

using namespace sparq_test;
using sparq::ReduceOp;
using sparq::Shape;

TEST(softmax_matches_reference_every_isa) {
  struct Dims {
    int64_t outer, axis, inner;
  };
  uint32_t seed = 1;
  for (Dims d : {Dims{1, 1, 1}, Dims{3, 17, 1}, Dims{5, 128, 1}, Dims{2, 1000, 1}, Dims{4, 33, 1}, Dims{3, 7, 5},
                 Dims{2, 13, 17}, Dims{300, 64, 1}})
    for (bool log : {false, true}) {
      const int64_t n = d.outer * d.axis * d.inner;
      auto x = random_vector(static_cast<size_t>(n), seed++, -8, 8);
      std::vector<double> want(static_cast<size_t>(n));
      for (int64_t o = 0; o < d.outer; ++o)
        for (int64_t i = 0; i < d.inner; ++i) {
          auto at = [&](int64_t a) { return (o * d.axis + a) * d.inner + i; };
          double m = -INFINITY, s = 0;
          for (int64_t a = 0; a < d.axis; ++a) m = std::max(m, static_cast<double>(x[at(a)]));
          for (int64_t a = 0; a < d.axis; ++a) s += std::exp(x[at(a)] - m);
          for (int64_t a = 0; a < d.axis; ++a) want[at(a)] = log ? x[at(a)] - m - std::log(s) : std::exp(x[at(a)] - m) / s;
        }
      for (sparq::Isa isa : sparq::available_isas())
        for (int threads : {1, 2}) {
          auto y = nan_filled(static_cast<size_t>(n));
          sparq::softmax(x.data(), y.data(), d.outer, d.axis, d.inner, log, ctx_for(isa, threads));
          int bad = 0;
          for (int64_t i = 0; i < n; ++i) bad += !close(y[i], want[i], 2e-6, log ? 4e-6 : 1e-7);  // log: error is absolute
          CHECK_MSG(bad == 0, "%s softmax %lld/%lld/%lld log=%d: %d wrong", sparq::isa_name(isa), (long long)d.outer,
                    (long long)d.axis, (long long)d.inner, log, bad);
        }
    }
}

TEST(softmax_nan_row_is_nan_and_in_place_works) {
  for (sparq::Isa isa : sparq::available_isas()) {
    auto x = random_vector(2 * 40, 3);
    x[5] = NAN;
    auto y = nan_filled(x.size());
    sparq::softmax(x.data(), y.data(), 2, 40, 1, false, ctx_for(isa));
    bool row0_nan = true, row1_ok = true;
    double s = 0;
    for (int j = 0; j < 40; ++j) row0_nan = row0_nan && std::isnan(y[j]);
    for (int j = 40; j < 80; ++j) row1_ok = row1_ok && !std::isnan(y[j]), s += y[j];
    CHECK(row0_nan && row1_ok && std::fabs(s - 1.0) < 1e-5);
    // Large negative mask values (-1e9) leave the other entries intact; in place.
    std::vector<float> z{1.0f, -1e9f, 2.0f};
    sparq::softmax(z.data(), z.data(), 1, 3, 1, false, ctx_for(isa));
    CHECK(z[1] == 0.0f && std::fabs(z[0] + z[2] - 1.0f) < 1e-6f);
  }
}

TEST(layer_norm_matches_reference_every_isa) {
  uint32_t seed = 10;
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 1}, {3, 17}, {5, 768}, {7, 33}, {400, 64}, {2, 1001}})
    for (bool with_beta : {false, true}) {
      auto x = random_vector(static_cast<size_t>(rows * cols), seed++, -3, 5);
      auto g = random_vector(static_cast<size_t>(cols), seed++, 0.5f, 1.5f);
      auto b = random_vector(static_cast<size_t>(cols), seed++);
      std::vector<double> want(x.size()), wmean(static_cast<size_t>(rows)), wis(static_cast<size_t>(rows));
      for (int64_t r = 0; r < rows; ++r) {
        double m = 0, v = 0;
        for (int64_t j = 0; j < cols; ++j) m += x[r * cols + j];
        m /= cols;
        for (int64_t j = 0; j < cols; ++j) v += (x[r * cols + j] - m) * (x[r * cols + j] - m);
        v /= cols;
        const double is = 1.0 / std::sqrt(v + 1e-5);
        wmean[r] = m, wis[r] = is;
        for (int64_t j = 0; j < cols; ++j)
          want[r * cols + j] = (x[r * cols + j] - m) * is * g[j] + (with_beta ? b[j] : 0.0);
      }
      for (sparq::Isa isa : sparq::available_isas())
        for (int threads : {1, 2}) {
          auto y = nan_filled(x.size()), mean = nan_filled(static_cast<size_t>(rows)), is = nan_filled(static_cast<size_t>(rows));
          sparq::layer_norm(x.data(), y.data(), rows, cols, g.data(), with_beta ? b.data() : nullptr, 1e-5f, mean.data(),
                            is.data(), ctx_for(isa, threads));
          int bad = 0;
          for (size_t i = 0; i < y.size(); ++i) bad += !close(y[i], want[i], 1e-5, 1e-5);
          for (int64_t r = 0; r < rows; ++r) bad += !close(mean[r], wmean[r], 1e-5, 1e-6) + !close(is[r], wis[r], 1e-5, 0);
          CHECK_MSG(bad == 0, "%s layer_norm %lldx%lld: %d wrong", sparq::isa_name(isa), (long long)rows, (long long)cols, bad);
        }
    }
  std::vector<float> x(4, 1.0f), y(4);
  CHECK(error_code([&] { sparq::layer_norm(x.data(), y.data(), 1, 4, nullptr, nullptr, 1e-5f); }) == "ERR_INVALID_ARGUMENT");
}

namespace {

double ref_reduce(ReduceOp op, const std::vector<double>& v) {
  double acc = op == ReduceOp::max ? -INFINITY : op == ReduceOp::min ? INFINITY : op == ReduceOp::prod ? 1 : 0;
  for (double e : v) {
    switch (op) {
      case ReduceOp::max: acc = std::isnan(e) || std::isnan(acc) ? NAN : std::max(acc, e); break;
      case ReduceOp::min: acc = std::isnan(e) || std::isnan(acc) ? NAN : std::min(acc, e); break;
      case ReduceOp::prod: acc *= e; break;
      case ReduceOp::sum_square: acc += e * e; break;
      default: acc += e;
    }
  }
  if (op == ReduceOp::mean) acc = v.empty() ? NAN : acc / static_cast<double>(v.size());
  return acc;
}

}  // namespace

TEST(reduce_axes_matches_reference) {
  struct Case {
    Shape shape;
    std::vector<int64_t> axes;
  };
  const Case cases[] = {{{4, 5, 6}, {2}},     {{4, 5, 6}, {1}},        {{4, 5, 6}, {0}},     {{4, 5, 6}, {0, 2}},
                        {{3, 4, 5, 6}, {1, 3}}, {{3, 4, 5, 6}, {-1, -2}}, {{2, 3, 4}, {}},      {{7, 1, 9}, {1}},
                        {{2, 0, 3}, {1}},     {{300, 70}, {1}},        {{6, 2, 3, 2}, {0, 2}}};
  uint32_t seed = 40;
  for (const Case& c : cases)
    for (int opi = 0; opi <= static_cast<int>(ReduceOp::sum_square); ++opi) {
      const auto op = static_cast<ReduceOp>(opi);
      auto x = random_vector(static_cast<size_t>(c.shape.numel()), seed++, 0.5f, 1.5f);
      if (x.size() > 3 && op == ReduceOp::max) x[2] = NAN;
      const Shape out = sparq::reduce_output_shape(c.shape, c.axes.data(), static_cast<int>(c.axes.size()), true);
      const Shape squeezed = sparq::reduce_output_shape(c.shape, c.axes.data(), static_cast<int>(c.axes.size()), false);
      CHECK(out.numel() == squeezed.numel());
      std::vector<std::vector<double>> groups(static_cast<size_t>(out.numel()));
      for (int64_t i = 0; i < c.shape.numel(); ++i) {
        auto coord = unravel(c.shape, i);
        for (int d = 0; d < c.shape.rank; ++d)
          if (out.dims[d] == 1) coord[d] = 0;
        groups[static_cast<size_t>(ravel(out, coord))].push_back(x[i]);
      }
      for (int threads : {1, 2}) {
        auto y = nan_filled(static_cast<size_t>(out.numel()));
        sparq::reduce_axes(op, x.data(), c.shape, c.axes.data(), static_cast<int>(c.axes.size()), y.data(),
                           ctx_for(sparq::active_isa(), threads));
        int bad = 0;
        for (int64_t i = 0; i < out.numel(); ++i) bad += !close(y[i], ref_reduce(op, groups[i]), 1e-5, 1e-6);
        CHECK_MSG(bad == 0, "reduce %d over %s: %d wrong", opi, c.shape.str().c_str(), bad);
      }
    }
  std::vector<float> x(6), y(6);
  const int64_t dup[] = {1, -1}, bad_axis[] = {3};
  CHECK(error_code([&] { sparq::reduce_axes(ReduceOp::sum, x.data(), Shape{2, 3}, dup, 2, y.data()); }) == "ERR_INVALID_ARGUMENT");
  CHECK(error_code([&] { sparq::reduce_axes(ReduceOp::sum, x.data(), Shape{2, 3}, bad_axis, 1, y.data()); }) == "ERR_INVALID_ARGUMENT");
}

TEST_MAIN()
