// Packed weights to bytes and back (sparq/packed_serialize.h): 'sparse-int8' unpacks to weights that
// compute bit-identical outputs on every ISA the CPU has; every truncation and a sweep of corrupted
// bytes is refused with sparq::Error or yields weights that still run safely (ASan/UBSan build).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "check.h"
#include "sparq/cpu.h"
#include "sparq/error.h"
#include "sparq/packed.h"
#include "sparq/packed_serialize.h"
#include "sparq/spmm_int8.h"

using namespace sparq_test;

namespace {

std::vector<float> pruned(int64_t K, int64_t N, double sparsity, uint32_t seed) {
  auto W = random_vector(static_cast<size_t>(K * N), seed);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  for (auto& w : W)
    if (u(rng) < sparsity) w = 0.0f;
  return W;
}

// Whole 1x4 blocks (4 consecutive k of one output) zeroed: what block pruning makes, and the weights
// 'sparse-int8' stores in its words layout (random zeros: its nonzeros layout).
std::vector<float> block_pruned(int64_t K, int64_t N, double sparsity, uint32_t seed) {
  auto W = random_vector(static_cast<size_t>(K * N), seed);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  for (int64_t k0 = 0; k0 < K; k0 += 4)
    for (int64_t n = 0; n < N; ++n)
      if (u(rng) < sparsity)
        for (int64_t k = k0; k < std::min(K, k0 + 4); ++k) W[static_cast<size_t>(k * N + n)] = 0.0f;
  return W;
}

std::vector<float> run(const sparq::PackedWeights& w, const std::vector<float>& x, int64_t M) {
  std::vector<float> y(static_cast<size_t>(M * w.N()), NAN);
  w.matmul(x.data(), M, y.data(), sparq::Epilogue{}, 1);
  return y;
}

const char* kIsas[] = {"scalar", "avx2", "avx512"};

// 'sparse-int8' weights to bytes and back: the same memory, density and outputs, bit for bit, and the
// same bytes again. Returns the bytes.
std::vector<uint8_t> round_trip(const sparq::PackedWeights& packed) {
  const int64_t K = packed.K(), N = packed.N();
  std::vector<uint8_t> bytes;
  CHECK(packed.serialize(bytes));
  auto back = sparq::unpack_weights("sparse-int8", bytes.data(), bytes.size(), K, N);
  CHECK(std::string(back->format()) == "sparse-int8");
  CHECK(back->density() == packed.density());
  CHECK(back->bytes() == packed.bytes());
  for (int64_t M : {1, 7, 40}) {
    auto x = random_vector(static_cast<size_t>(M * K), 5);
    auto a = run(*back, x, M);
    auto b = run(packed, x, M);
    CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
  }
  std::vector<uint8_t> again;
  back->serialize(again);
  CHECK(again == bytes);
  return bytes;
}

}  // namespace

TEST(sparse_int8_round_trips_bit_identical) {
  for (bool blocks : {true, false})
  for (auto [K, N] : {std::pair<int64_t, int64_t>{37, 5}, {300, 100}, {257, 33}, {1, 1}, {64 * 4 + 3, 17}}) {
    const uint32_t seed = static_cast<uint32_t>(K * 131 + N);
    auto W = blocks ? block_pruned(K, N, 0.8, seed) : pruned(K, N, 0.9, seed);
    auto packed = sparq::pack_weights("sparse-int8", W.data(), K, N, sparq::PackOptions{});
    round_trip(*packed);
  }
}

TEST(codes_for_another_kernel_width_are_refused) {
  // AVX2 packs 7-bit codes, AVX-512 VNNI 8-bit ones: bytes from one must not run on the other.
  const int64_t K = 40, N = 8;
  auto W = block_pruned(K, N, 0.5, 2);
  std::vector<uint8_t> active;
  sparq::pack_weights("sparse-int8", W.data(), K, N, sparq::PackOptions{})->serialize(active);
  for (const char* isa_name : kIsas) {
    sparq::Isa isa;
    if (!sparq::parse_isa(isa_name, &isa) || !sparq::isa_supported(isa)) continue;
    sparq::PackOptions opts;
    opts.strings["isa"] = isa_name;
    std::vector<uint8_t> bytes;
    sparq::pack_weights("sparse-int8", W.data(), K, N, opts)->serialize(bytes);
    bool same_width = std::memcmp(bytes.data() + 12, active.data() + 12, 4) == 0;
    try {
      sparq::unpack_weights("sparse-int8", bytes.data(), bytes.size(), K, N);
      CHECK(same_width);
    } catch (const sparq::Error& e) {
      CHECK(!same_width);
      CHECK(std::string(e.code()) == "ERR_INVALID_MODEL");
    }
  }
}

TEST(sparse_and_block_fp32_round_trip_bit_identical_and_refuse_truncation) {
  struct Case {
    const char* format;
    const char* block;
  };
  for (Case f : {Case{"sparse", ""}, Case{"block", "1x4"}, Case{"block", "8x1"}, Case{"block", "16x1"}})
    for (auto [K, N] : {std::pair<int64_t, int64_t>{37, 5}, {130, 41}, {1, 1}}) {
      auto W = pruned(K, N, 0.8, static_cast<uint32_t>(K + 7 * N));
      sparq::PackOptions opts;
      if (*f.block) opts.strings["block"] = f.block;
      auto packed = sparq::pack_weights(f.format, W.data(), K, N, opts);
      std::vector<uint8_t> bytes;
      CHECK(packed->serialize(bytes));
      auto back = sparq::unpack_weights(f.format, bytes.data(), bytes.size(), K, N);
      CHECK(std::string(back->format()) == f.format);
      for (int64_t M : {1, 33}) {
        auto x = random_vector(static_cast<size_t>(M * K), 4);
        auto a = run(*back, x, M);
        auto b = run(*packed, x, M);
        CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
      }
      for (size_t n = 0; n < bytes.size(); n += 3) {
        bool threw = false;
        try {
          sparq::unpack_weights(f.format, bytes.data(), n, K, N);
        } catch (const sparq::Error&) {
          threw = true;
        }
        CHECK_MSG(threw, "%s: truncation to %zu bytes was accepted\n", f.format, n);
      }
      std::mt19937 rng(5);
      for (size_t i = 0; i < bytes.size(); ++i) {
        auto bad = bytes;
        bad[i] ^= static_cast<uint8_t>(1u << (rng() % 8));
        try {
          auto w = sparq::unpack_weights(f.format, bad.data(), bad.size(), K, N);
          auto x = random_vector(static_cast<size_t>(2 * K), 6);
          (void)run(*w, x, 2);
        } catch (const sparq::Error&) {
        }
      }
    }
}

TEST(sparse_int8_nonzeros_layout_round_trips_and_refuses_damage) {
  // Scattered zeros make 'sparse-int8' pick its nonzeros layout (bytes: block maps, 4-bit masks, codes).
  for (auto [K, N] : {std::pair<int64_t, int64_t>{256, 32}, {784, 30}, {37, 5}, {1, 1}}) {
    auto W = pruned(K, N, 0.9, static_cast<uint32_t>(8 + K));
    auto packed = sparq::pack_weights("sparse-int8", W.data(), K, N, sparq::PackOptions{});
    auto bytes = round_trip(*packed);
    for (size_t n = 0; n < bytes.size(); n += 5) {
      bool threw = false;
      try {
        sparq::unpack_weights("sparse-int8", bytes.data(), n, K, N);
      } catch (const sparq::Error& e) {
        threw = std::string(e.code()) == "ERR_INVALID_MODEL";
      }
      CHECK_MSG(threw, "nonzeros: truncation to %zu bytes was accepted\n", n);
    }
    std::mt19937 rng(12);
    for (size_t i = 0; i < bytes.size(); ++i) {
      auto bad = bytes;
      bad[i] ^= static_cast<uint8_t>(1u << (rng() % 8));
      try {
        auto w = sparq::unpack_weights("sparse-int8", bad.data(), bad.size(), K, N);
        auto x = random_vector(static_cast<size_t>(3 * K), 9);
        (void)run(*w, x, 3);  // accepted: must still run within bounds (sanitizer build checks)
        (void)run(*w, x, 1);
      } catch (const sparq::Error&) {
      }
    }
  }
}

TEST(unknown_format_and_bad_dims_are_errors) {
  std::vector<uint8_t> none;
  bool threw = false;
  try {
    sparq::unpack_weights("dense-magic", none.data(), 0, 4, 4);
  } catch (const sparq::Error&) {
    threw = true;
  }
  CHECK(threw);
  threw = false;
  try {
    sparq::unpack_weights("sparse-int8", none.data(), 0, 0, 4);
  } catch (const sparq::Error&) {
    threw = true;
  }
  CHECK(threw);
}

TEST(truncated_and_corrupted_bytes_are_refused_or_safe) {
  const int64_t K = 131, N = 19;
  for (bool blocks : {true, false}) {
  auto W = blocks ? block_pruned(K, N, 0.7, 3) : pruned(K, N, 0.9, 3);
  auto packed = sparq::pack_weights("sparse-int8", W.data(), K, N, sparq::PackOptions{});
  std::vector<uint8_t> bytes;
  CHECK(packed->serialize(bytes));
  auto x = random_vector(static_cast<size_t>(3 * K), 9);
  for (size_t n = 0; n < bytes.size(); ++n) {
    bool threw = false;
    try {
      sparq::unpack_weights("sparse-int8", bytes.data(), n, K, N);
    } catch (const sparq::Error& e) {
      threw = std::string(e.code()) == "ERR_INVALID_MODEL";
    }
    CHECK_MSG(threw, "truncation to %zu bytes was accepted\n", n);
  }
  std::mt19937 rng(11);
  int refused = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto bad = bytes;
    bad[i] ^= static_cast<uint8_t>(1u << (rng() % 8));
    try {
      auto w = sparq::unpack_weights("sparse-int8", bad.data(), bad.size(), K, N);
      auto y = run(*w, x, 3);  // accepted: must still run within bounds (sanitizer build checks)
      (void)y;
    } catch (const sparq::Error&) {
      ++refused;
    }
  }
  CHECK(refused > 0);
  // Wrong K / N for the bytes.
  bool threw = false;
  try {
    sparq::unpack_weights("sparse-int8", bytes.data(), bytes.size(), K + 1, N);
  } catch (const sparq::Error&) {
    threw = true;
  }
  CHECK(threw);
  }
}

TEST(nonzero_offsets_fast_path_matches_the_block_loop) {
  // The unpacker's pdep/vpcompressb path against the plain loop: offsets 4q + l of every set mask bit,
  // blocks in quad order; -1 for an empty mask or a k at or past kmax.
  const sparq::CpuFeatures& f = sparq::cpu_features();
  if (!(f.bmi2 && f.avx512vbmi2 && sparq::isa_supported(sparq::Isa::avx512))) {
    std::printf("skip: no BMI2 + AVX512-VBMI2 here\n");
    return;
  }
  std::mt19937_64 rng(21);
  for (int trial = 0; trial < 2000; ++trial) {
    const double density = (trial % 10) / 10.0;
    uint64_t bitmap = 0;
    for (int q = 0; q < 64; ++q)
      if (std::uniform_real_distribution<double>(0, 1)(rng) < density) bitmap |= uint64_t{1} << q;
    const uint64_t first = rng() % 5;  // the range's masks may start mid-byte
    std::vector<uint8_t> masks(64 + 16, 0), out(256 + 64), want;
    uint64_t nib = first;
    bool empty = false;
    int kmax = trial % 3 == 0 ? static_cast<int>(rng() % 257) : 256;
    bool past = false;
    for (int q = 0; q < 64; ++q) {
      if (!((bitmap >> q) & 1)) continue;
      unsigned m = static_cast<unsigned>(rng() % 16);
      if (m == 0 && trial % 7 != 0) m = 1u << (rng() % 4);
      empty |= m == 0;
      masks[nib >> 1] |= static_cast<uint8_t>(m << (4 * (nib & 1)));
      ++nib;
      for (int l = 0; l < 4; ++l)
        if ((m >> l) & 1) {
          want.push_back(static_cast<uint8_t>(4 * q + l));
          past |= 4 * q + l >= kmax;
        }
    }
    const int64_t got = sparq::nonzero_offsets_avx512(bitmap, masks.data(), first, kmax, out.data());
    if (empty || past) {
      CHECK_MSG(got == -1, "trial %d: damage accepted", trial);
    } else {
      CHECK_MSG(got == static_cast<int64_t>(want.size()) && std::equal(want.begin(), want.end(), out.begin()), "trial %d: offsets differ", trial);
    }
  }
}

TEST_MAIN()
