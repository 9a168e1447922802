// SessionStream: one session's stream and the staging its matrices share (see sparq/cuda.h).
#include "sparq/cuda.h"

namespace sparq::cuda {

SessionStream::SessionStream() : stream_(create_stream()) {}  // create_stream: non-blocking, or throws

SessionStream::~SessionStream() {
  // Staging is freed after the stream: every matmul synchronised before it returned, so nothing is pending.
  destroy_stream(stream_);
}

size_t SessionStream::bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return staging_.bytes();
}

void SessionStream::matmul(DeviceWeights& w, const float* x, int64_t M, float* y, Activation act, const float* bias) {
  std::lock_guard<std::mutex> lock(mutex_);
  w.matmul(x, M, y, act, stream_, staging_, bias);
}

}  // namespace sparq::cuda
