// Error checking shared by the CUDA sources: every runtime call goes through SPARQ_CUDA_CHECK, which
// turns a failure into sparq::Error("ERR_NATIVE", "<call>: cudaErrorX: message").
#pragma once
#include <cuda_runtime.h>

#include <string>

#include "sparq/error.h"

namespace sparq::cuda::detail {

inline std::string describe_error(cudaError_t e) {
  return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
}

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear a non-sticky error so later calls are not blamed for it
    const char* code = e == cudaErrorMemoryAllocation ? "ERR_OUT_OF_MEMORY" : "ERR_NATIVE";
    throw Error(code, std::string("CUDA ") + what + " failed: " + describe_error(e));
  }
}

}  // namespace sparq::cuda::detail

#define SPARQ_CUDA_CHECK(call) ::sparq::cuda::detail::check((call), #call)
// After a kernel launch: reports launch-configuration errors synchronously.
#define SPARQ_CUDA_CHECK_LAUNCH(name) ::sparq::cuda::detail::check(cudaGetLastError(), name)
