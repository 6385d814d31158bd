# Finds nyx's dependencies the CMake way; a missing one stops configuration naming the Debian
# package that provides it (`make demo` and `make test` install them for you).
include(GNUInstallDirs)

function(nyx_missing what package)
  message(FATAL_ERROR "nyx needs ${what}, which was not found. On Debian: apt-get install ${package}")
endfunction()

# find_package(name), or stop naming the Debian package. A macro, so the targets and the
# name_FOUND variables stay visible to the caller.
macro(nyx_require_package name what package)
  find_package(${name} QUIET)
  if(NOT ${name}_FOUND)
    nyx_missing("${what}" "${package}")
  endif()
endmacro()

nyx_require_package(PkgConfig "pkg-config" pkg-config)
pkg_check_modules(OPENBLAS QUIET IMPORTED_TARGET openblas)
if(NOT OPENBLAS_FOUND)
  nyx_missing("OpenBLAS" "libopenblas-dev")
endif()
nyx_require_package(TBB "oneTBB" libtbb-dev)
nyx_require_package(nlohmann_json "nlohmann-json" nlohmann-json3-dev)
nyx_require_package(ZLIB "zlib" zlib1g-dev)
# MPI (Open MPI) for data-parallel training (nn/distributed.hpp): on by default when it is found;
# without it nyx builds and trains in one process.
set(MPI_CXX_SKIP_MPICXX ON)  # MPI's C API from C++; not the C++ bindings MPI-3 deprecated
find_package(MPI QUIET COMPONENTS CXX)
option(NYX_MPI "Data-parallel training over MPI (on by default when MPI is found)" ${MPI_CXX_FOUND})
if(NYX_MPI AND NOT MPI_CXX_FOUND)
  nyx_missing("MPI for NYX_MPI=ON" "libopenmpi-dev openmpi-bin")
endif()
# oneDNN (Debian's libdnnl-dev) for AVX-512 and bf16 matrix products (core/blas.hpp): on by default
# when it is found; without it every product runs on OpenBLAS. Found by hand rather than through
# dnnl-config.cmake, which asks for OpenCL (Debian builds oneDNN's GPU runtime too; nyx uses its CPU
# engine only). Debian builds it on OpenMP, so nyx also links libgomp, to keep each call on one thread.
find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
find_library(DNNL_LIBRARY dnnl)
find_library(GOMP_LIBRARY NAMES gomp libgomp.so.1)
if(DNNL_INCLUDE_DIR AND DNNL_LIBRARY AND GOMP_LIBRARY)
  set(NYX_DNNL_FOUND ON)
else()
  set(NYX_DNNL_FOUND OFF)
endif()
option(NYX_DNNL "oneDNN for f32 and bf16 matrix products (on by default when it is found)" ${NYX_DNNL_FOUND})
if(NYX_DNNL AND NOT NYX_DNNL_FOUND)
  nyx_missing("oneDNN for NYX_DNNL=ON" "libdnnl-dev")
endif()
if(NYX_BUILD_TESTS)
  nyx_require_package(doctest "doctest" doctest-dev)
endif()
if(NYX_BUILD_BENCHMARKS)
  nyx_require_package(benchmark "Google Benchmark" libbenchmark-dev)
endif()
if(NYX_BUILD_BENCHMARKS OR NYX_BUILD_TOOLS)
  nyx_require_package(CLI11 "CLI11" libcli11-dev)
endif()
