// FileBytes (sparq/read_file.h): fstat, one page-aligned block, pread until done.
#include "sparq/read_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "sparq/aligned.h"
#include "sparq/error.h"

#if defined(_WIN32)
#include <cstdio>
#else
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace sparq {
namespace {

[[noreturn]] void io_error(const std::string& path, const std::string& why) {
  throw Error("ERR_IO", "Could not read the model file \"" + path + "\": " + why);
}

#if !defined(_WIN32)
// The file opened for reading, once it is known to be a regular file; its size.
int open_regular(const std::string& path, size_t& size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) io_error(path, std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    io_error(path, why);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    io_error(path, S_ISDIR(st.st_mode) ? "it is a directory" : "it is not a regular file");
  }
  size = static_cast<size_t>(st.st_size);
  return fd;
}
#endif

}  // namespace

#if defined(_WIN32)
FileBytes::FileBytes(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) io_error(path, std::strerror(errno));
  std::fseek(f, 0, SEEK_END);
  const long n = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  if (n < 0) {
    std::fclose(f);
    io_error(path, "its size is unknown");
  }
  size_ = static_cast<size_t>(n);
  allocated_ = size_ ? size_ : 1;
  data_ = static_cast<uint8_t*>(aligned_allocate(allocated_));
  const size_t got = size_ ? std::fread(data_, 1, size_, f) : 0;
  std::fclose(f);
  if (got != size_) {
    aligned_release(data_, allocated_);
    io_error(path, "it ended early");
  }
}
#else
FileBytes::FileBytes(const std::string& path) {
  size_t size = 0;
  const int fd = open_regular(path, size);
  size_ = size;
  allocated_ = size_ ? size_ : 1;
  void* block = ::mmap(nullptr, allocated_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (block == MAP_FAILED) {
    ::close(fd);
    throw Error("ERR_OUT_OF_MEMORY", "Could not allocate " + std::to_string(size_) + " bytes for the model file \"" + path + "\"");
  }
  data_ = static_cast<uint8_t*>(block);
  mapped_ = true;
  size_t done = 0;
  while (done < size_) {
    // 64 MiB a call: some kernels cap one read near 2 GiB.
    const size_t want = std::min<size_t>(size_ - done, size_t(64) << 20);
    const ssize_t n = ::pread(fd, data_ + done, want, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = n < 0 ? std::strerror(errno) : "it was truncated while being read";
      ::close(fd);
      ::munmap(data_, allocated_);
      data_ = nullptr;
      io_error(path, why);
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
}
#endif

#if defined(_WIN32)
FileMapping::FileMapping(const std::string& path) { io_error(path, "mapping files is not supported on this platform"); }
FileMapping::~FileMapping() = default;
#else
FileMapping::FileMapping(const std::string& path) {
  size_t size = 0;
  const int fd = open_regular(path, size);
  size_ = size;
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      io_error(path, why);
    }
    data_ = static_cast<uint8_t*>(p);
  }
  ::close(fd);  // the mapping keeps the file (this inode) alive; a file renamed over it is another
}

FileMapping::~FileMapping() {
  if (data_) ::munmap(data_, size_);
}
#endif

size_t FileBytes::capacity() const noexcept {
#if !defined(_WIN32)
  if (mapped_) {
    const long page = ::sysconf(_SC_PAGESIZE);
    if (page > 0) return (allocated_ + static_cast<size_t>(page) - 1) / static_cast<size_t>(page) * static_cast<size_t>(page);
  }
#endif
  return size_;
}

FileBytes::~FileBytes() {
#if !defined(_WIN32)
  if (mapped_) {
    if (data_) ::munmap(data_, allocated_);
    return;
  }
#endif
  aligned_release(data_, allocated_);
}

}  // namespace sparq
