// Packed weights to bytes and back (sparq/packed_serialize.h): every format with an unpacker
// ('sparse-int8', 'sparse', 'block', 'int8', '2:4'; 'int4' / 'int8-wo' in test_weight_only.cpp) unpacks
// to weights that compute bit-identical outputs; every truncation and a sweep of corrupted bytes is
// refused with sparq::Error or yields weights that still run safely (ASan/UBSan build).
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

// Unpacked weights against the packed ones they came from: the same outputs, bit for bit, and the same
// bytes when serialised again.
void check_same(const sparq::PackedWeights& back, const sparq::PackedWeights& packed, const std::vector<uint8_t>& bytes) {
  const int64_t K = packed.K();
  for (int64_t M : {1, 7, 40}) {
    auto x = random_vector(static_cast<size_t>(M * K), 5);
    auto a = run(back, x, M);
    auto b = run(packed, x, M);
    CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
  }
  std::vector<uint8_t> again;
  CHECK(back.serialize(again));
  CHECK(again == bytes);
}

// `format`'s bytes of W packed for every ISA this CPU runs.
std::vector<std::vector<uint8_t>> bytes_per_isa(const char* format, const std::vector<float>& W, int64_t K, int64_t N) {
  std::vector<std::vector<uint8_t>> out;
  for (const char* isa_name : kIsas) {
    sparq::Isa isa;
    if (!sparq::parse_isa(isa_name, &isa) || !sparq::isa_supported(isa)) continue;
    sparq::PackOptions opts;
    opts.strings["isa"] = isa_name;
    out.emplace_back();
    sparq::pack_weights(format, W.data(), K, N, opts)->serialize(out.back());
  }
  return out;
}

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
  check_same(*back, packed, bytes);
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
  for (const auto& bytes : bytes_per_isa("sparse-int8", W, K, N)) {
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

namespace {

// W [K, N] in the 2:4 pattern: in each group of 4 consecutive k of each output, 0, 1 or 2 nonzeros.
std::vector<float> pattern_2_4(int64_t K, int64_t N, uint32_t seed) {
  auto W = random_vector(static_cast<size_t>(K * N), seed);
  std::mt19937 rng(seed);
  for (int64_t k0 = 0; k0 < K; k0 += 4)
    for (int64_t n = 0; n < N; ++n) {
      const int keep = static_cast<int>(rng() % 8 == 0 ? rng() % 2 : 2);  // mostly 2, some 0 or 1
      int l0 = static_cast<int>(rng() % 4), l1 = static_cast<int>(rng() % 4);
      for (int64_t k = k0; k < std::min(K, k0 + 4); ++k) {
        const int l = static_cast<int>(k - k0);
        if (!((keep >= 1 && l == l0) || (keep == 2 && l == l1))) W[static_cast<size_t>(k * N + n)] = 0.0f;
      }
    }
  return W;
}

bool refused(const char* format, const std::vector<uint8_t>& bytes, size_t n, int64_t K, int64_t N) {
  try {
    sparq::unpack_weights(format, bytes.data(), n, K, N);
  } catch (const sparq::Error& e) {
    return std::string(e.code()) == "ERR_INVALID_MODEL";
  }
  return false;
}

// Bytes of `format` packed for the active ISA: they unpack to weights with the same outputs (bit for bit)
// and the same bytes again; every truncation is refused; every single-bit flip is refused or gives
// weights that run within bounds. Returns the bytes.
std::vector<uint8_t> check_adopted(const char* format, const sparq::PackedWeights& packed) {
  const int64_t K = packed.K(), N = packed.N();
  std::vector<uint8_t> bytes;
  CHECK(packed.serialize(bytes));
  auto back = sparq::unpack_weights(format, bytes.data(), bytes.size(), K, N);
  CHECK(std::string(back->format()) == format);
  CHECK(back->bytes() == packed.bytes());
  std::vector<sparq::InfoEntry> a_info, b_info;
  back->describe(a_info);
  packed.describe(b_info);
  CHECK(a_info.size() == b_info.size());
  // The weight-only formats don't carry their quantization error figures in the bytes (0 after unpacking).
  const bool wo = std::string(format) == "int4" || std::string(format) == "int8-wo";
  for (size_t i = 0; i < a_info.size(); ++i) {
    if (wo && (a_info[i].key == "weightMaxAbsError" || a_info[i].key == "weightRelRmsError" || a_info[i].key == "nonFiniteGroups")) continue;
    CHECK_MSG(a_info[i].key == b_info[i].key && a_info[i].number == b_info[i].number && a_info[i].text == b_info[i].text, "%s: %s differs\n", format, a_info[i].key.c_str());
  }
  check_same(*back, packed, bytes);
  for (size_t n = 0; n < bytes.size(); ++n) CHECK_MSG(refused(format, bytes, n, K, N), "%s: truncation to %zu bytes was accepted\n", format, n);
  // One byte too many.
  auto longer = bytes;
  longer.push_back(0);
  CHECK(refused(format, longer, longer.size(), K, N));
  CHECK(refused(format, bytes, bytes.size(), K + 1, N));
  CHECK(refused(format, bytes, bytes.size(), K, N + 1));
  std::mt19937 rng(13);
  auto x = random_vector(static_cast<size_t>(3 * K), 9);
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto bad = bytes;
    bad[i] ^= static_cast<uint8_t>(1u << (rng() % 8));
    try {
      auto w = sparq::unpack_weights(format, bad.data(), bad.size(), K, N);
      (void)run(*w, x, 3);  // accepted: must still run within bounds (sanitizer build checks)
    } catch (const sparq::Error& e) {
      CHECK(std::string(e.code()) == "ERR_INVALID_MODEL");
    }
  }
  return bytes;
}

template <typename T>
void poke(std::vector<uint8_t>& bytes, size_t at, T v) {
  std::memcpy(bytes.data() + at, &v, sizeof(T));
}

}  // namespace

TEST(every_format_with_a_serialiser_has_an_unpacker) {
  auto names = sparq::unpackable_formats();
  for (const char* f : {"sparse", "block", "sparse-int8", "int4", "int8-wo", "int8", "2:4"})
    CHECK_MSG(std::find(names.begin(), names.end(), f) != names.end(), "no unpacker for %s\n", f);
}

TEST(sparse_int8_words_layout_refuses_damaged_codes) {
  // 1x4 blocks make the words layout (a 32-bit word of 4 codes per stored block); K = 259 leaves 3 lanes
  // in the last quad, and output 0 keeps a block there.
  const int64_t K = 64 * 4 + 3, N = 17;
  auto W = block_pruned(K, N, 0.8, 5);
  W[static_cast<size_t>((K - 1) * N)] = 0.5f;
  auto packed = sparq::pack_weights("sparse-int8", W.data(), K, N, sparq::PackOptions{});
  std::vector<uint8_t> bytes;
  CHECK(packed->serialize(bytes));
  CHECK(*reinterpret_cast<const uint32_t*>(bytes.data() + 64) == 0);  // the words layout
  const int64_t blocks = *reinterpret_cast<const int64_t*>(bytes.data() + 32);
  const int64_t chunks = ((K + 3) / 4 + 63) / 64;
  const size_t words = bytes.size() - 4 * static_cast<size_t>(N) - 4 * static_cast<size_t>(blocks);
  const size_t maps = words - 8 * static_cast<size_t>(N * chunks);
  int64_t first_output = 0;  // output 0's blocks come first; its last one sits at K's last quad
  for (int64_t c = 0; c < chunks; ++c) first_output += __builtin_popcountll(*reinterpret_cast<const uint64_t*>(bytes.data() + maps + 8 * static_cast<size_t>(c)));
  CHECK(!refused("sparse-int8", bytes, bytes.size(), K, N));
  auto bad = bytes;
  poke<int8_t>(bad, words + 4 * static_cast<size_t>(blocks / 2) + 1, -128);  // outside [-127, 127]
  CHECK(refused("sparse-int8", bad, bad.size(), K, N));
  bad = bytes;
  poke<uint32_t>(bad, words + 4 * static_cast<size_t>(blocks - 1), 0);  // a stored block without a code
  CHECK(refused("sparse-int8", bad, bad.size(), K, N));
  bad = bytes;
  poke<int8_t>(bad, words + 4 * static_cast<size_t>(first_output - 1) + 3, 1);  // a code at k = K ...
  poke<int64_t>(bad, 40, *reinterpret_cast<const int64_t*>(bytes.data() + 40) + 1);  // ... counted in the header
  CHECK(refused("sparse-int8", bad, bad.size(), K, N));
  bad = bytes;
  poke<int8_t>(bad, words + 4 * static_cast<size_t>(first_output - 1) + 2, 0);  // lawful: a code made 0 ...
  poke<int8_t>(bad, words + 4 * static_cast<size_t>(first_output - 1) + 1, 0);
  poke<int8_t>(bad, words + 4 * static_cast<size_t>(first_output - 1), 0);  // ... but the whole word: empty
  CHECK(refused("sparse-int8", bad, bad.size(), K, N));
}

TEST(int8_round_trips_and_refuses_damage) {
  for (bool per_channel : {true, false})
    for (auto [K, N] : {std::pair<int64_t, int64_t>{37, 5}, {64, 48}, {130, 33}, {1, 1}}) {
      auto W = random_vector(static_cast<size_t>(K * N), static_cast<uint32_t>(K * 7 + N));
      if (N > 3) W[static_cast<size_t>(N + 2)] = NAN;  // a non-finite column: scale NaN, codes 0
      sparq::PackOptions opts;
      opts.numbers["perChannel"] = per_channel ? 1.0 : 0.0;
      auto packed = sparq::pack_weights("int8", W.data(), K, N, opts);
      auto bytes = check_adopted("int8", *packed);
      const size_t codes = 64, scales = bytes.size() - 4 * static_cast<size_t>(N);
      // Targeted damage: each must be refused.
      auto bad = bytes;
      poke<int8_t>(bad, codes, -128);  // k 0 of column 0: outside [-127, 127] (and [-63, 63])
      CHECK(refused("int8", bad, bad.size(), K, N));
      for (float s : {INFINITY, -1.0f, 0.0f}) {
        bad = bytes;
        poke<float>(bad, scales, s);
        CHECK(refused("int8", bad, bad.size(), K, N));
      }
      const int64_t group = *reinterpret_cast<const int32_t*>(bytes.data() + 16);
      const int64_t kq = (K + 3) / 4, pad_panel = N / 16;  // column N: the first padding lane
      if (N % 16 != 0) {  // a padding lane's code (the last column's neighbour) must stay zero
        bad = bytes;
        poke<int8_t>(bad, codes + static_cast<size_t>((pad_panel / group) * kq * group * 64 + (pad_panel % group) * 64 + (N % 16) * 4), 1);
        CHECK(refused("int8", bad, bad.size(), K, N));
      }
      if (K % 4 != 0) {  // a k past K in the last quad
        bad = bytes;
        poke<int8_t>(bad, codes + static_cast<size_t>((kq - 1) * group * 64 + 3), 1);
        CHECK(refused("int8", bad, bad.size(), K, N));
      }
      if (N > 3 && per_channel) {  // the NaN column gets a code
        bad = bytes;
        poke<int8_t>(bad, codes + 2 * 4, 1);
        CHECK(refused("int8", bad, bad.size(), K, N));
      }
    }
}

TEST(int8_bytes_for_another_kernel_are_refused_not_misread) {
  // AVX2 without VNNI packs 7-bit codes one panel per group, AVX512-VNNI 8-bit two per group.
  const int64_t K = 40, N = 40;
  auto W = random_vector(static_cast<size_t>(K * N), 3);
  std::vector<uint8_t> active;
  sparq::pack_weights("int8", W.data(), K, N, sparq::PackOptions{})->serialize(active);
  for (const auto& bytes : bytes_per_isa("int8", W, K, N)) {
    const bool same_kernel = std::memcmp(bytes.data() + 12, active.data() + 12, 8) == 0;
    CHECK(refused("int8", bytes, bytes.size(), K, N) == !same_kernel);
  }
}

TEST(weight_only_round_trips_and_refuses_damage) {
  for (const char* format : {"int4", "int8-wo"})
    for (bool symmetric : {true, false})
      for (auto [K, N] : {std::pair<int64_t, int64_t>{64, 16}, {100, 33}, {1, 1}}) {
        auto W = random_vector(static_cast<size_t>(K * N), static_cast<uint32_t>(K + N));
        sparq::PackOptions opts;
        opts.numbers["groupSize"] = 32;
        opts.numbers["symmetric"] = symmetric ? 1.0 : 0.0;
        check_adopted(format, *sparq::pack_weights(format, W.data(), K, N, opts));
      }
}

TEST(sparse_2_4_round_trips_and_refuses_damage) {
  for (auto [K, N] : {std::pair<int64_t, int64_t>{36, 5}, {64, 48}, {130, 33}, {1, 1}, {7, 17}}) {
    auto W = pattern_2_4(K, N, static_cast<uint32_t>(K * 3 + N));
    auto packed = sparq::pack_weights("2:4", W.data(), K, N, sparq::PackOptions{});
    auto bytes = check_adopted("2:4", *packed);
    // Every ISA reads the same layout: bytes packed for one unpack on the active one, same outputs.
    for (const auto& other : bytes_per_isa("2:4", W, K, N)) CHECK(!refused("2:4", other, other.size(), K, N));
    const int64_t G = (K + 3) / 4, panels = (N + 15) / 16;
    const size_t val = 64, sel = val + static_cast<size_t>(panels * G * 2 * 16 * 4);
    // Find a lane with two stored values in group 0 of panel 0 and damage its metadata.
    for (int j = 0; j < std::min<int64_t>(16, N); ++j) {
      float v0, v1;
      std::memcpy(&v0, bytes.data() + val + 4 * j, 4);
      std::memcpy(&v1, bytes.data() + val + 64 + 4 * j, 4);
      uint32_t s0, s1;
      std::memcpy(&s0, bytes.data() + sel, 4);
      std::memcpy(&s1, bytes.data() + sel + 4, 4);
      auto bad = bytes;
      if (v0 != 0 && v1 != 0) {  // the offsets swapped: out of order
        const uint32_t o0 = (s0 >> (2 * j)) & 3u, o1 = (s1 >> (2 * j)) & 3u;
        poke<uint32_t>(bad, sel, (s0 & ~(3u << (2 * j))) | (o1 << (2 * j)));
        poke<uint32_t>(bad, sel + 4, (s1 & ~(3u << (2 * j))) | (o0 << (2 * j)));
        CHECK(refused("2:4", bad, bad.size(), K, N));
      }
      if (v0 == 0) {  // an empty slot 0 with a value in slot 1 only
        bad = bytes;
        poke<float>(bad, val + 64 + 4 * j, 1.0f);
        CHECK(refused("2:4", bad, bad.size(), K, N));
      }
      bad = bytes;  // -0 stored (the packer drops zeros): not canonical
      if (v0 == 0) {
        poke<float>(bad, val + 4 * j, -0.0f);
        CHECK(refused("2:4", bad, bad.size(), K, N));
      }
    }
    if (N % 16 != 0) {  // a lane past N holds a value
      auto bad = bytes;
      poke<float>(bad, val + static_cast<size_t>((panels - 1) * G * 2 * 64 + 4 * (N % 16)), 1.0f);
      CHECK(refused("2:4", bad, bad.size(), K, N));
    }
  }
}

TEST_MAIN()
