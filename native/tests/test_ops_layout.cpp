// Data movement ops (ops.h) against index-arithmetic references: Transpose (every perm up to rank 4,
// attention's head permutes, 1/4/8-byte types), Gather (negative and out-of-range indices), Slice
// (clamping, negative steps), Concat/Split, Cast.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "ops_testing.h"

using namespace sparq_test;
using sparq::DType;
using sparq::Shape;

namespace {

template <typename T>
std::vector<T> iota_of(int64_t n) {
  std::vector<T> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<T>(i * 7 + 3);
  return v;
}

template <typename T>
void check_transpose(const Shape& s, const std::vector<int64_t>& perm, DType dt, int threads) {
  auto x = iota_of<T>(s.numel());
  const Shape out = sparq::transpose_output_shape(s, perm.data());
  std::vector<T> y(static_cast<size_t>(out.numel()), T(0));
  sparq::transpose(dt, x.data(), s, perm.data(), y.data(), ctx_for(sparq::active_isa(), threads));
  int bad = 0;
  for (int64_t i = 0; i < out.numel(); ++i) {
    auto oc = unravel(out, i);
    std::vector<int64_t> ic(static_cast<size_t>(s.rank));
    for (int d = 0; d < s.rank; ++d) ic[perm[d]] = oc[d];
    bad += y[i] != x[ravel(s, ic)];
  }
  std::string p;
  for (auto v : perm) p += std::to_string(v) + ",";
  CHECK_MSG(bad == 0, "transpose %s perm %s (%zu bytes): %d wrong", s.str().c_str(), p.c_str(), sizeof(T), bad);
}

}  // namespace

TEST(transpose_every_permutation) {
  for (const Shape& s : {Shape{5}, Shape{3, 7}, Shape{33, 65}, Shape{2, 3, 4}, Shape{1, 5, 1, 3}, Shape{3, 1, 17, 5},
                         Shape{2, 5, 3, 40}}) {
    std::vector<int64_t> perm(static_cast<size_t>(s.rank));
    std::iota(perm.begin(), perm.end(), 0);
    do {
      check_transpose<float>(s, perm, DType::float32, 1);
      check_transpose<uint8_t>(s, perm, DType::uint8, 1);
      check_transpose<int64_t>(s, perm, DType::int64, 2);
    } while (std::next_permutation(perm.begin(), perm.end()));
  }
  // Attention's permutes on a BERT-like shape, threaded.
  check_transpose<float>(Shape{2, 128, 12, 64}, {0, 2, 1, 3}, DType::float32, 2);
  check_transpose<float>(Shape{2, 12, 128, 64}, {0, 1, 3, 2}, DType::float32, 2);
  check_transpose<float>(Shape{300, 257}, {1, 0}, DType::float32, 2);
  std::vector<float> x(6), y(6);
  const int64_t bad[] = {0, 0}, oob[] = {0, 2};
  CHECK(error_code([&] { sparq::transpose(DType::float32, x.data(), Shape{2, 3}, bad, y.data()); }) == "ERR_INVALID_ARGUMENT");
  CHECK(error_code([&] { sparq::transpose(DType::float32, x.data(), Shape{2, 3}, oob, y.data()); }) == "ERR_INVALID_ARGUMENT");
  // Null perm reverses.
  std::vector<float> a{1, 2, 3, 4, 5, 6};
  sparq::transpose(DType::float32, a.data(), Shape{2, 3}, nullptr, y.data());
  CHECK((y == std::vector<float>{1, 4, 2, 5, 3, 6}));
}

TEST(gather_axes_negative_indices_and_bounds) {
  const Shape ds{4, 5, 3};
  auto data = iota_of<float>(ds.numel());
  for (int64_t axis : {0, 1, 2, -1, -3}) {
    const int a = static_cast<int>(axis < 0 ? axis + 3 : axis);
    const int64_t dim = ds.dims[a];
    const Shape is{2, 3};
    std::vector<int64_t> idx{0, dim - 1, -1, -dim, 1, 0};
    std::vector<int32_t> idx32(idx.begin(), idx.end());
    const Shape out = sparq::gather_output_shape(ds, axis, is);
    CHECK(out.rank == 4);
    for (int variant = 0; variant < 2; ++variant) {
      auto y = nan_filled(static_cast<size_t>(out.numel()));
      sparq::gather(DType::float32, data.data(), ds, axis, variant ? DType::int32 : DType::int64,
                    variant ? static_cast<const void*>(idx32.data()) : idx.data(), is, y.data(), ctx_for(sparq::active_isa(), 2));
      int bad = 0;
      for (int64_t i = 0; i < out.numel(); ++i) {
        auto oc = unravel(out, i);
        std::vector<int64_t> dc;
        for (int d = 0; d < a; ++d) dc.push_back(oc[d]);
        int64_t v = idx[static_cast<size_t>(oc[a] * 3 + oc[a + 1])];
        dc.push_back(v < 0 ? v + dim : v);
        for (int d = a + 2; d < out.rank; ++d) dc.push_back(oc[d]);
        bad += y[i] != data[ravel(ds, dc)];
      }
      CHECK_MSG(bad == 0, "gather axis %lld: %d wrong", (long long)axis, bad);
    }
  }
  // Embedding lookup shape: [vocab, hidden] with [batch, seq] ids.
  std::vector<int64_t> ids{3, 1, 0, 3};
  std::vector<float> y(4 * 3 * 5);
  sparq::gather(DType::float32, data.data(), Shape{4, 15}, 0, DType::int64, ids.data(), Shape{2, 2}, y.data());
  CHECK(std::memcmp(y.data(), data.data() + 45, 15 * sizeof(float)) == 0);
  // Out of range: an error, nothing written.
  auto y2 = nan_filled(6);
  std::vector<int64_t> oob{1, 4};
  CHECK(error_code([&] { sparq::gather(DType::float32, data.data(), ds, 0, DType::int64, oob.data(), Shape{2}, y2.data()); }) ==
        "ERR_INDEX_OUT_OF_RANGE");
  std::vector<int64_t> neg{-5};
  CHECK(error_code([&] { sparq::gather(DType::float32, data.data(), ds, 0, DType::int64, neg.data(), Shape{1}, y2.data()); }) ==
        "ERR_INDEX_OUT_OF_RANGE");
  CHECK(std::isnan(y2[0]));
  CHECK(error_code([&] { sparq::gather(DType::float32, data.data(), ds, 3, DType::int64, ids.data(), Shape{1}, y2.data()); }) ==
        "ERR_INVALID_ARGUMENT");
  CHECK(error_code([&] { sparq::gather(DType::float32, data.data(), ds, 0, DType::float32, ids.data(), Shape{1}, y2.data()); }) ==
        "ERR_UNSUPPORTED_DTYPE");
}

TEST(slice_matches_python_semantics) {
  const Shape in{6, 7, 5};
  auto x = iota_of<int32_t>(in.numel());
  struct Case {
    std::vector<int64_t> starts, ends, axes, steps;
  };
  const int64_t big = std::numeric_limits<int64_t>::max(), small = std::numeric_limits<int64_t>::min();
  const Case cases[] = {
      {{1}, {4}, {0}, {1}},          {{0, 2}, {big, -1}, {1, 2}, {2, 1}}, {{-1}, {small}, {1}, {-1}},
      {{5, 1}, {0, 6}, {0, 1}, {-2, 3}}, {{10}, {20}, {2}, {1}},         {{-100}, {100}, {-1}, {3}},
      {{3}, {3}, {0}, {1}},          {{0, 0, 0}, {6, 7, 5}, {0, 1, 2}, {1, 1, 1}}, {{4}, {-100}, {2}, {-1}},
  };
  for (const Case& c : cases) {
    const auto plan = sparq::slice_plan(in, c.starts.data(), c.ends.data(), c.axes.data(), c.steps.data(),
                                        static_cast<int>(c.starts.size()));
    // Reference: python range semantics per axis.
    std::vector<std::vector<int64_t>> picks(3);
    for (int d = 0; d < 3; ++d)
      for (int64_t i = 0; i < in.dims[d]; ++i) picks[d].push_back(i);
    for (size_t k = 0; k < c.starts.size(); ++k) {
      const int64_t a = c.axes[k] < 0 ? c.axes[k] + 3 : c.axes[k], dim = in.dims[a], st = c.steps[k];
      int64_t s = c.starts[k], e = c.ends[k];
      if (s < 0) s += dim;
      if (e < 0) e += dim;
      std::vector<int64_t> p;
      if (st > 0) {
        s = std::clamp<int64_t>(s, 0, dim), e = std::clamp<int64_t>(e, 0, dim);
        for (int64_t i = s; i < e; i += st) p.push_back(i);
      } else {
        s = std::clamp<int64_t>(s, -1, dim - 1), e = std::clamp<int64_t>(e, -1, dim - 1);
        for (int64_t i = s; i > e; i += st) p.push_back(i);
      }
      picks[a] = p;
    }
    bool shape_ok = true;
    for (int d = 0; d < 3; ++d) shape_ok = shape_ok && plan.out.dims[d] == static_cast<int64_t>(picks[d].size());
    CHECK_MSG(shape_ok, "slice shape %s", plan.out.str().c_str());
    if (!shape_ok) continue;
    std::vector<int32_t> y(static_cast<size_t>(plan.out.numel()), -1);
    sparq::slice(DType::int32, x.data(), in, plan, y.data(), ctx_for(sparq::active_isa(), 2));
    int bad = 0;
    for (int64_t i = 0; i < plan.out.numel(); ++i) {
      auto oc = unravel(plan.out, i);
      bad += y[i] != x[ravel(in, {picks[0][oc[0]], picks[1][oc[1]], picks[2][oc[2]]})];
    }
    CHECK(bad == 0);
  }
  const int64_t s0[] = {0}, e0[] = {1}, z[] = {0}, dup[] = {1, 1};
  CHECK(error_code([&] { sparq::slice_plan(in, s0, e0, nullptr, z, 1); }) == "ERR_INVALID_ARGUMENT");
  CHECK(error_code([&] { sparq::slice_plan(in, dup, dup, dup, nullptr, 2); }) == "ERR_INVALID_ARGUMENT");
}

TEST(concat_and_split_round_trip) {
  for (int64_t axis : {0, 1, 2, -1}) {
    const int a = static_cast<int>(axis < 0 ? axis + 3 : axis);
    Shape shapes[3] = {{2, 3, 4}, {2, 3, 4}, {2, 3, 4}};
    shapes[1].dims[a] = 1;
    shapes[2].dims[a] = 5;
    std::vector<std::vector<int64_t>> ins;
    for (int i = 0; i < 3; ++i) {
      auto v = iota_of<int64_t>(shapes[i].numel());
      for (auto& e : v) e += 1000 * i;
      ins.push_back(v);
    }
    const void* ptrs[3] = {ins[0].data(), ins[1].data(), ins[2].data()};
    const Shape out = sparq::concat_output_shape(shapes, 3, axis);
    std::vector<int64_t> y(static_cast<size_t>(out.numel()), -1);
    sparq::concat(DType::int64, ptrs, shapes, 3, axis, y.data());
    int bad = 0;
    for (int64_t i = 0; i < out.numel(); ++i) {
      auto c = unravel(out, i);
      int which = 0;
      while (c[a] >= shapes[which].dims[a]) c[a] -= shapes[which].dims[a], ++which;
      bad += y[i] != ins[which][ravel(shapes[which], c)];
    }
    CHECK(bad == 0);
    std::vector<std::vector<int64_t>> outs(3);
    void* optr[3];
    int64_t sizes[3];
    for (int i = 0; i < 3; ++i) outs[i].assign(ins[i].size(), -1), optr[i] = outs[i].data(), sizes[i] = shapes[i].dims[a];
    sparq::split(DType::int64, y.data(), out, axis, sizes, 3, optr);
    CHECK(outs[0] == ins[0] && outs[1] == ins[1] && outs[2] == ins[2]);
  }
  Shape bad_shapes[2] = {{2, 3}, {3, 3}};
  CHECK(error_code([&] { sparq::concat_output_shape(bad_shapes, 2, 1); }) == "ERR_SHAPE_MISMATCH");
  std::vector<float> x(6);
  const int64_t sizes[] = {1, 1};
  void* outs[2] = {x.data(), x.data()};
  CHECK(error_code([&] { sparq::split(DType::float32, x.data(), Shape{2, 3}, 1, sizes, 2, outs); }) == "ERR_INVALID_ARGUMENT");
}

TEST(cast_conversions_are_defined) {
  const std::vector<float> f{1.7f, -1.7f, 300.0f, -300.0f, NAN, 0.0f, 3e10f, -3e10f, INFINITY};
  const int64_t n = static_cast<int64_t>(f.size());
  std::vector<uint8_t> u8(f.size());
  std::vector<int8_t> s8(f.size());
  std::vector<int32_t> s32(f.size());
  std::vector<int64_t> s64(f.size());
  std::vector<uint8_t> b(f.size());
  sparq::cast(DType::float32, DType::uint8, f.data(), u8.data(), n);
  sparq::cast(DType::float32, DType::int8, f.data(), s8.data(), n);
  sparq::cast(DType::float32, DType::int32, f.data(), s32.data(), n);
  sparq::cast(DType::float32, DType::int64, f.data(), s64.data(), n);
  sparq::cast(DType::float32, DType::boolean, f.data(), b.data(), n);
  CHECK((u8 == std::vector<uint8_t>{1, 0, 255, 0, 0, 0, 255, 0, 255}));
  CHECK((s8 == std::vector<int8_t>{1, -1, 127, -128, 0, 0, 127, -128, 127}));
  CHECK((s32 == std::vector<int32_t>{1, -1, 300, -300, 0, 0, std::numeric_limits<int32_t>::max(),
                                     std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()}));
  CHECK(s64[2] == 300 && s64[6] == static_cast<int64_t>(3e10f) && s64[8] == std::numeric_limits<int64_t>::max());
  CHECK((b == std::vector<uint8_t>{1, 1, 1, 1, 1, 0, 1, 1, 1}));
  const std::vector<int64_t> i64{-1, 256, 5, 1LL << 40};
  std::vector<int32_t> i32(4);
  std::vector<uint8_t> iu8(4);
  std::vector<float> fo(4);
  sparq::cast(DType::int64, DType::int32, i64.data(), i32.data(), 4);
  sparq::cast(DType::int64, DType::uint8, i64.data(), iu8.data(), 4);
  sparq::cast(DType::int64, DType::float32, i64.data(), fo.data(), 4);
  CHECK((i32 == std::vector<int32_t>{-1, 256, 5, 0}));
  CHECK((iu8 == std::vector<uint8_t>{255, 0, 5, 0}));
  CHECK(fo[3] == 1099511627776.0f);
  const std::vector<uint8_t> bools{0, 1, 2};
  std::vector<float> bf(3);
  std::vector<int64_t> bi(3);
  sparq::cast(DType::boolean, DType::float32, bools.data(), bf.data(), 3);
  sparq::cast(DType::boolean, DType::int64, bools.data(), bi.data(), 3);
  CHECK(bf[0] == 0 && bf[1] == 1 && bf[2] == 1 && bi[2] == 1);
  // 16 is ONNX bfloat16, a type the runtime does not define
  CHECK(error_code([&] { sparq::cast(DType::float32, static_cast<DType>(16), f.data(), u8.data(), 1); }) == "ERR_UNSUPPORTED_DTYPE");
}

TEST_MAIN()
