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
# SentencePiece, the tokenizer library of ALBERT and T5, for pretraining (data/tokenizer.hpp).
pkg_check_modules(SENTENCEPIECE QUIET IMPORTED_TARGET sentencepiece)
if(NOT SENTENCEPIECE_FOUND)
  nyx_missing("SentencePiece" "libsentencepiece-dev")
endif()
nyx_require_package(nlohmann_json "nlohmann-json" nlohmann-json3-dev)
nyx_require_package(ZLIB "zlib" zlib1g-dev)
# MPI (Open MPI) for data-parallel training (dist/distributed.hpp): on by default when it is found;
# without it nyx builds and trains in one process.
set(MPI_CXX_SKIP_MPICXX ON)  # MPI's C API from C++; not the C++ bindings MPI-3 deprecated
find_package(MPI QUIET COMPONENTS CXX)
option(NYX_MPI "Data-parallel training over MPI (on by default when MPI is found)" ${MPI_CXX_FOUND})
if(NYX_MPI AND NOT MPI_CXX_FOUND)
  nyx_missing("MPI for NYX_MPI=ON" "libopenmpi-dev openmpi-bin")
endif()
# oneDNN (Debian's libdnnl-dev) for AVX-512 and bf16 matrix products (core/blas.hpp): on by default
# when it is found; without it every product runs on OpenBLAS. nyx also links libgomp, to keep
# each oneDNN call on one OpenMP thread (cmake/NyxDnnl.cmake).
include(${CMAKE_CURRENT_LIST_DIR}/NyxDnnl.cmake)
if(TARGET nyx::dnnl)
  set(NYX_DNNL_FOUND ON)
else()
  set(NYX_DNNL_FOUND OFF)
endif()
option(NYX_DNNL "oneDNN for f32 and bf16 matrix products (on by default when it is found)" ${NYX_DNNL_FOUND})
if(NYX_DNNL AND NOT (NYX_DNNL_INCLUDE_DIR AND NYX_DNNL_LIBRARY))
  nyx_missing("oneDNN for NYX_DNNL=ON" "libdnnl-dev")
elseif(NYX_DNNL AND NOT NYX_GOMP_LIBRARY)
  nyx_missing("libgomp (the OpenMP runtime oneDNN runs on) for NYX_DNNL=ON" "libgcc-12-dev")
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
