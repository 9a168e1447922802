// Indexing and resampling ops (sparq/ops_indexing.h) on small known cases: gather/scatter against
// naive loops, index errors before any write, Resize on values worked by hand, and DepthToSpace /
// SpaceToDepth as inverses.
#include <cmath>
#include <vector>

#include "ops_testing.h"
#include "sparq/ops_indexing.h"

using namespace sparq_test;
using sparq::DType;
using sparq::Shape;

TEST(gather_elements_and_scatter_elements_match_naive_loops) {
  const Shape ds{3, 4}, is{2, 4};
  auto data = random_vector(12, 1);
  std::vector<int64_t> idx = {0, 2, -1, 1, 2, 0, 1, -3};
  std::vector<float> out(8, NAN);
  sparq::gather_elements(DType::float32, data.data(), ds, 0, DType::int64, idx.data(), is, out.data());
  bool ok = true;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j) {
      int64_t k = idx[static_cast<size_t>(i * 4 + j)];
      if (k < 0) k += 3;
      ok = ok && out[static_cast<size_t>(i * 4 + j)] == data[static_cast<size_t>(k * 4 + j)];
    }
  CHECK(ok);
  // add-reduction with duplicate targets
  auto upd = random_vector(8, 2);
  std::vector<float> s(12, NAN), want = data;
  sparq::scatter_elements(DType::float32, data.data(), ds, 0, DType::int64, idx.data(), is, upd.data(), sparq::ScatterReduction::add, s.data());
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j) {
      int64_t k = idx[static_cast<size_t>(i * 4 + j)];
      if (k < 0) k += 3;
      want[static_cast<size_t>(k * 4 + j)] += upd[static_cast<size_t>(i * 4 + j)];
    }
  CHECK(s == want);
}

TEST(index_errors_come_before_any_write) {
  const Shape ds{2, 3}, is{2, 1};
  std::vector<float> data(6, 1.0f), out(6, NAN), upd(6, 2.0f);
  std::vector<int64_t> idx = {1, 2};
  bool threw = false;
  try {
    sparq::scatter_nd(DType::float32, data.data(), ds, DType::int64, idx.data(), is, upd.data(), sparq::ScatterReduction::none, out.data());
  } catch (const sparq::Error& e) {
    threw = e.code() == "ERR_INDEX_OUT_OF_RANGE";
  }
  CHECK(threw && std::isnan(out[0]));
  std::vector<int32_t> idx32 = {0, -4};
  threw = false;
  try {
    sparq::gather_nd(DType::float32, data.data(), ds, DType::int32, idx32.data(), Shape{1, 2}, 0, out.data());
  } catch (const sparq::Error& e) {
    threw = e.code() == "ERR_INDEX_OUT_OF_RANGE";
  }
  CHECK(threw && std::isnan(out[0]));
}

TEST(resize_nearest_and_linear_by_hand) {
  // [1, 2] -> x2 along the last axis
  const std::vector<float> x = {1.0f, 3.0f};
  sparq::ResizeParams p;
  p.scales[1] = 2.0f;
  std::vector<float> y(4, NAN);
  p.mode = sparq::ResizeMode::nearest;
  p.coordinates = sparq::ResizeCoordinates::asymmetric;
  p.nearest = sparq::ResizeNearest::floor;
  sparq::resize(p, x.data(), Shape{1, 2}, y.data(), Shape{1, 4});
  CHECK((y == std::vector<float>{1, 1, 3, 3}));
  // half_pixel linear: sources -0.25, 0.25, 0.75, 1.25 clamp to [0, 1]
  p.mode = sparq::ResizeMode::linear;
  p.coordinates = sparq::ResizeCoordinates::half_pixel;
  sparq::resize(p, x.data(), Shape{1, 2}, y.data(), Shape{1, 4});
  CHECK((y == std::vector<float>{1.0f, 1.5f, 2.5f, 3.0f}));
  // unchanged axes copy
  std::vector<float> z(2, NAN);
  sparq::ResizeParams id;
  sparq::resize(id, x.data(), Shape{1, 2}, z.data(), Shape{1, 2});
  CHECK(z == x);
}

TEST(depth_to_space_inverts_space_to_depth) {
  const Shape in{2, 3, 4, 6};
  auto x = random_vector(static_cast<size_t>(in.numel()), 5);
  std::vector<float> mid(x.size(), NAN), back(x.size(), NAN);
  sparq::space_to_depth(DType::float32, x.data(), in, 2, mid.data());
  // SpaceToDepth matches DepthToSpace's DCR layout, so DCR undoes it.
  sparq::depth_to_space(DType::float32, mid.data(), Shape{2, 12, 2, 3}, 2, false, back.data());
  CHECK(back == x);
}

TEST_MAIN()
