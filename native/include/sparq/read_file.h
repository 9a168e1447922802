// A whole file read into one page-aligned block, the buffer a model loader parses and adopts sections
// from. A private copy, never a mapping: a model file replaced, rewritten or truncated on disk while
// sessions use it cannot change or fault them (a mapped file truncated under a process faults it with
// SIGBUS, and MAP_PRIVATE still shows other writers' changes to pages it has not copied). Ordinary 4 KiB
// pages, not the huge pages of sparq/aligned.h: on the shared 2-core VM, creating a session from the
// 118 MB encoder ONNX spent 440-490 ms of system time with a huge-page file buffer (the kernel compacting
// memory for 2 MiB pages, then splitting them as packed weights' pages are discarded) against 90-130 ms
// with 4 KiB pages; the file is read once and mostly discarded, so TLB reach buys nothing.
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
  // The bytes the block spans, size() and the zeros after it up to the end of its last page where it is
  // a mapping: a view over all of them lets an owner hand every page back (MADV_DONTNEED), the last too.
  size_t capacity() const noexcept;

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t allocated_ = 0;
  bool mapped_ = false;  // an anonymous mapping (Linux), else aligned_allocate
};

// A whole file mapped read-write MAP_PRIVATE (writes stay private), for a loader that only reads the
// file while it builds something of its own from it (a session packing an ONNX model's weights): the
// page cache is mapped in place, no copy and no fresh memory (118 MB: ~5 ms against 60-90 ms of system
// time to read it). The caller must not keep views into it once that is built: a file truncated on disk
// under a live mapping faults the next access to a page past its new end (SIGBUS). Throws ERR_IO.
class FileMapping {
 public:
  explicit FileMapping(const std::string& path);
  ~FileMapping();
  FileMapping(const FileMapping&) = delete;
  FileMapping& operator=(const FileMapping&) = delete;

  uint8_t* data() noexcept { return data_; }
  size_t size() const noexcept { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace sparq
