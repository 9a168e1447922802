// kv_store (sparq/kv_cache.h): rows land at the given position of every (batch, head) plane, nothing
// else changes, and positions or shapes that don't fit are refused.
#include <cstring>

#include "check.h"
#include "sparq/error.h"
#include "sparq/kv_cache.h"

using namespace sparq_test;

TEST(kv_store_writes_rows_in_place_and_refuses_what_does_not_fit) {
  const int64_t B = 2, H = 3, T = 7, S = 2, D = 5;
  const auto cache_shape = sparq::Shape{B, H, T, D};
  const auto rows_shape = sparq::Shape{B, H, S, D};
  std::vector<float> cache(static_cast<size_t>(B * H * T * D), -1.0f);
  auto rows = random_vector(static_cast<size_t>(B * H * S * D), 3);
  sparq::kv_store(cache.data(), cache_shape, rows.data(), rows_shape, 4);
  for (int64_t p = 0; p < B * H; ++p)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t d = 0; d < D; ++d) {
        const float got = cache[static_cast<size_t>((p * T + t) * D + d)];
        const float want = t >= 4 && t < 4 + S ? rows[static_cast<size_t>((p * S + t - 4) * D + d)] : -1.0f;
        CHECK(got == want);
      }
  for (int64_t pos : {int64_t(-1), T - S + 1}) {
    bool refused = false;
    try {
      sparq::kv_store(cache.data(), cache_shape, rows.data(), rows_shape, pos);
    } catch (const sparq::Error& e) {
      refused = e.code() == "ERR_INDEX_OUT_OF_RANGE";
    }
    CHECK(refused);
  }
  CHECK(sparq::kv_store_shapes_ok(cache_shape, rows_shape));
  CHECK(!sparq::kv_store_shapes_ok(cache_shape, sparq::Shape{B, H, T + 1, D}));
  CHECK(!sparq::kv_store_shapes_ok(cache_shape, sparq::Shape{B, H + 1, 1, D}));
  CHECK(!sparq::kv_store_shapes_ok(cache_shape, sparq::Shape{B, H, 1}));
}

TEST_MAIN()
