// The main() of the CUDA test programs: test_x [--list | --case NAME | SUBSTRING]. --list prints the
// case names, --case runs exactly one (gpu-check.sh runs every case in a process of its own, so a kernel
// fault loses one case, not all). Without a CUDA device only the host_* cases run, after a line saying why.
#pragma once
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "sparq/cuda.h"

namespace sparq_test {

inline int run_cuda_tests(int argc, char** argv) {
  auto& all = cases();
  if (argc > 1 && std::strcmp(argv[1], "--list") == 0) {
    for (auto& c : all) std::printf("%s\n", c.name);
    return 0;
  }
  if (argc > 2 && std::strcmp(argv[1], "--case") == 0) {
    std::vector<Case> one;
    for (auto& c : all)
      if (argv[2] == std::string(c.name)) one.push_back(c);
    if (one.empty()) {
      std::printf("no test case named %s\n", argv[2]);
      return 2;
    }
    all = one;
    argc = 1;
  }
  const auto& d = sparq::cuda::device_info();
  if (!d.available) {
    std::printf("skipped: no CUDA device (%s); running the host-only cases\n", d.reason.c_str());
    char filter[] = "host_";
    char* args[] = {argv[0], filter, nullptr};
    return run_all(2, args);
  }
  return run_all(argc, argv);
}

}  // namespace sparq_test
