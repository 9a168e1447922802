// Packing fp32 weights given as bytes at any alignment (sparq/packed.h pack_weights_bytes: a weight at an
// odd offset inside a mapped ONNX file): 'dense' packs from the bytes in place, the other formats from an
// aligned copy; either way the packed weights compute bit-identical outputs to packing the aligned W, on
// every ISA the CPU has, and the caller's bytes are left as they were.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "kernel_testing.h"
#include "sparq/cpu.h"
#include "sparq/error.h"
#include "sparq/packed.h"

using namespace sparq_test;

TEST(bytes_at_every_offset_pack_like_the_aligned_matrix) {
  for (const char* isa_name : {"scalar", "avx2", "avx512"}) {
    sparq::Isa isa;
    if (!sparq::parse_isa(isa_name, &isa) || !sparq::isa_supported(isa)) continue;
    sparq::PackOptions opts;
    opts.strings["isa"] = isa_name;
    for (auto [K, N] : {std::pair<int64_t, int64_t>{1, 1}, {37, 5}, {64, 48}, {257, 33}, {300, 100}})
      for (const char* format : {"dense", "int8", "sparse"}) {
        auto W = random_vector(static_cast<size_t>(K * N), static_cast<uint32_t>(K * 7 + N));
        auto want = sparq::pack_weights(format, W.data(), K, N, opts);
        // Before any matmul: some formats build tables on first use (and report them in bytes()).
        const size_t want_bytes = want->bytes();
        for (size_t offset = 0; offset < 4; ++offset) {
          std::vector<unsigned char> file(offset + W.size() * sizeof(float) + 3, 0xa5);
          std::memcpy(file.data() + offset, W.data(), W.size() * sizeof(float));
          const std::vector<unsigned char> before = file;
          auto got = sparq::pack_weights_bytes(format, file.data() + offset, K, N, opts);
          CHECK_MSG(std::string(got->format()) == format && got->bytes() == want_bytes && same_outputs(*want, *got),
                    "%s %s K=%lld N=%lld offset %zu: differs from the aligned packing\n", isa_name, format, static_cast<long long>(K),
                    static_cast<long long>(N), offset);
          CHECK(file == before);
        }
      }
  }
}

TEST(bytes_are_checked_like_floats) {
  std::vector<unsigned char> file(4 * 6 + 1);
  bool refused = false;
  try {
    sparq::pack_weights_bytes("dense", file.data() + 1, 0, 6, sparq::PackOptions{});
  } catch (const sparq::Error&) {
    refused = true;
  }
  CHECK(refused);
  refused = false;
  try {
    sparq::pack_weights_bytes("dense-magic", file.data() + 1, 1, 6, sparq::PackOptions{});
  } catch (const sparq::Error&) {
    refused = true;
  }
  CHECK(refused);
}
TEST_MAIN()
