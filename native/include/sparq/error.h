// sparq::Error: the one exception type the native core throws. `code` is a stable machine-readable
// identifier (it becomes SparqError.code in JS); `what()` is the human message.
#pragma once
#include <stdexcept>
#include <string>

namespace sparq {

class Error : public std::runtime_error {
 public:
  Error(std::string code, const std::string& message) : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const noexcept { return code_; }

 private:
  std::string code_;
};

// Argument errors raised by the core itself (the binding maps them to TypeError/RangeError in JS).
inline Error invalid_argument(const std::string& message) { return Error("ERR_INVALID_ARGUMENT", message); }

}  // namespace sparq
