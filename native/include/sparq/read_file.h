// A whole file read into one 64-byte-aligned block (2 MiB and larger: huge pages, sparq/aligned.h), the
// buffer a model loader parses and adopts sections from. A private copy, never a mapping: a model file
// replaced, rewritten or truncated on disk while sessions use it cannot change or fault them (a mapped
// file truncated under a process faults it with SIGBUS, and MAP_PRIVATE still shows other writers'
// changes to pages it has not copied). Reading into huge pages costs a third of reading into 4 KiB
// pages on the 2-core VM (118 MB: 45-70 ms against 120-250 ms: the page faults dominate, not the copy).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace sparq {

class FileBytes {
 public:
  // Throws sparq::Error ERR_IO (the message names the path and the OS's reason).
  explicit FileBytes(const std::string& path);
  ~FileBytes();
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;

  uint8_t* data() noexcept { return data_; }
  size_t size() const noexcept { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t allocated_ = 0;
};

}  // namespace sparq
