// sparq::FileBytes: a file's exact bytes in a 64-byte-aligned block (huge-page sized too), a private copy
// that later changes to the file don't reach; sparq::FileMapping: the exact bytes, writes kept private; a
// missing file or a directory is sparq::Error ERR_IO.
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "sparq/error.h"
#include "sparq/read_file.h"

namespace {

std::string temp_path(const char* name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/sparq_test_read_file_" + name;
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  CHECK(f != nullptr);
  if (!f) return;
  if (!bytes.empty()) CHECK(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
  std::fclose(f);
}

std::string code_of(const std::string& path) {
  try {
    sparq::FileBytes f(path);
  } catch (const sparq::Error& e) {
    return e.code();
  }
  return "";
}

}  // namespace

TEST(read_file_gives_the_exact_bytes_aligned_and_private) {
  std::mt19937 rng(3);
  for (size_t n : {size_t(0), size_t(1), size_t(4095), size_t(3) << 20}) {
    std::vector<uint8_t> bytes(n);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    const std::string path = temp_path("bytes");
    write_file(path, bytes);
    sparq::FileBytes f(path);
    CHECK(f.size() == n);
    CHECK(reinterpret_cast<uintptr_t>(f.data()) % 64 == 0);
    CHECK(std::vector<uint8_t>(f.data(), f.data() + f.size()) == bytes);
    // Rewritten and truncated on disk: the copy stays as it was read.
    write_file(path, std::vector<uint8_t>(7, 0xee));
    CHECK(std::vector<uint8_t>(f.data(), f.data() + f.size()) == bytes);
    std::remove(path.c_str());
  }
}

TEST(map_file_maps_the_exact_bytes_and_keeps_writes_private) {
  std::vector<uint8_t> bytes(100000);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7);
  const std::string path = temp_path("mapped");
  write_file(path, bytes);
  {
    sparq::FileMapping m(path);
    CHECK(m.size() == bytes.size());
    CHECK(std::vector<uint8_t>(m.data(), m.data() + m.size()) == bytes);
    m.data()[5] = 0;  // MAP_PRIVATE: the file keeps its byte
  }
  sparq::FileBytes f(path);
  CHECK(f.data()[5] == bytes[5]);
  write_file(path, {});
  CHECK(sparq::FileMapping(path).size() == 0);
  std::remove(path.c_str());
  try {
    sparq::FileMapping absent(temp_path("absent_mapping"));
    CHECK(false);
  } catch (const sparq::Error& e) {
    CHECK(e.code() == "ERR_IO");
  }
}

TEST(read_file_refuses_missing_files_and_directories_with_err_io) {
  CHECK(code_of(temp_path("absent_file")) == "ERR_IO");
  const char* dir = std::getenv("TMPDIR");
  CHECK(code_of(dir && *dir ? dir : "/tmp") == "ERR_IO");
}

TEST_MAIN()
