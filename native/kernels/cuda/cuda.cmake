# The CUDA kernels (-DSPARQ_CUDA=ON): a static library `sparq_cuda` that CMakeLists.txt links into the
# addon and the C++ tests when it exists, plus the define SPARQ_WITH_CUDA.
#
# - nvcc is found automatically: CMAKE_CUDA_COMPILER / CUDACXX if set, else `nvcc` on PATH, else
#   /usr/local/cuda/bin/nvcc.
# - Code for sm_90a (Hopper's wgmma and setmaxnreg), sm_90 and sm_80, plus compute_80 PTX so newer
#   chips can JIT it. Each -gencode is a full device compile: keep the list short (CI has 2 cores).
# - The CUDA runtime is linked statically (cudart_static). It dlopens the driver (libcuda.so.1) at
#   the first CUDA call, so a CUDA build LOADS on a machine with no GPU or no driver: the first call
#   returns cudaErrorNoDevice / cudaErrorInsufficientDriver and sparq falls back to the CPU. Nothing
#   here links libcuda directly.
if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX})
  find_program(SPARQ_NVCC nvcc HINTS /usr/local/cuda/bin /usr/local/bin)
  if(NOT SPARQ_NVCC)
    message(FATAL_ERROR "SPARQ_CUDA=ON but nvcc was not found: put it on PATH or set CUDACXX")
  endif()
  # Resolve wrappers (e.g. /usr/local/bin/nvcc -> /usr/local/cuda-13.0/bin/nvcc) so CMake finds the toolkit.
  get_filename_component(SPARQ_NVCC_REAL "${SPARQ_NVCC}" REALPATH)
  execute_process(COMMAND "${SPARQ_NVCC}" --dryrun -c -x cu /dev/null -o /dev/null
    ERROR_VARIABLE _nvcc_dry OUTPUT_QUIET RESULT_VARIABLE _nvcc_rc)
  if(_nvcc_dry MATCHES "_HERE_=([^\n]*)" AND EXISTS "${CMAKE_MATCH_1}/nvcc")
    set(SPARQ_NVCC_REAL "${CMAKE_MATCH_1}/nvcc")
  endif()
  set(CMAKE_CUDA_COMPILER "${SPARQ_NVCC_REAL}")
endif()
# Architectures are given as explicit -gencode flags below (CMake 3.25 has no "90a" spelling).
set(CMAKE_CUDA_ARCHITECTURES OFF)
enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
find_package(CUDAToolkit REQUIRED)

file(GLOB SPARQ_CUDA_SOURCES CONFIGURE_DEPENDS
  ${CMAKE_CURRENT_SOURCE_DIR}/native/kernels/cuda/*.cu
  ${CMAKE_CURRENT_SOURCE_DIR}/native/kernels/cuda/*.cpp)
add_library(sparq_cuda STATIC ${SPARQ_CUDA_SOURCES})
set_target_properties(sparq_cuda PROPERTIES POSITION_INDEPENDENT_CODE ON CUDA_ARCHITECTURES OFF)
target_include_directories(sparq_cuda PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/native/include)
target_include_directories(sparq_cuda PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/native/kernels/cuda)
# SPARQ_CUDA_GENCODE overrides the target list (e.g. "-gencode=arch=compute_90a,code=sm_90a" alone for
# a fast build on an H100/H200 host; several flags separated by ';').
# The environment variable of the same name sets the default (handy through cmake-js / npm).
set(_sparq_gencode_default
  "-gencode=arch=compute_90a,code=sm_90a;-gencode=arch=compute_90,code=sm_90;-gencode=arch=compute_80,code=[sm_80,compute_80]")
if(DEFINED ENV{SPARQ_CUDA_GENCODE} AND NOT "$ENV{SPARQ_CUDA_GENCODE}" STREQUAL "")
  set(_sparq_gencode_default "$ENV{SPARQ_CUDA_GENCODE}")
endif()
set(SPARQ_CUDA_GENCODE "${_sparq_gencode_default}" CACHE STRING "nvcc -gencode flags for the sparq CUDA kernels")
target_compile_options(sparq_cuda PRIVATE
  $<$<COMPILE_LANGUAGE:CUDA>:${SPARQ_CUDA_GENCODE} -Xcompiler=-fPIC --expt-relaxed-constexpr -Xcompiler=-Wall,-Wextra,-Wno-unused-parameter>
  $<$<COMPILE_LANGUAGE:CXX>:${SPARQ_WARNINGS}>)
target_compile_definitions(sparq_cuda PUBLIC SPARQ_WITH_CUDA=1)
target_link_libraries(sparq_cuda PUBLIC CUDA::cudart_static Threads::Threads)
if(TARGET sparq_core)
  target_link_libraries(sparq_cuda PUBLIC sparq_core)
endif()
