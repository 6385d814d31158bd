# Finds nyx's dependencies the CMake way; a missing one stops configuration naming the Debian
# package that provides it (`make demo` and `make test` install them for you).
include(GNUInstallDirs)

function(nyx_missing what package)
  message(FATAL_ERROR "nyx needs ${what}, which was not found. On Debian: apt-get install ${package}")
endfunction()

find_package(PkgConfig QUIET)
if(NOT PKG_CONFIG_FOUND)
  nyx_missing("pkg-config" "pkg-config")
endif()
pkg_check_modules(OPENBLAS QUIET IMPORTED_TARGET openblas)
if(NOT OPENBLAS_FOUND)
  nyx_missing("OpenBLAS" "libopenblas-dev")
endif()

find_package(TBB QUIET)
if(NOT TBB_FOUND)
  nyx_missing("oneTBB" "libtbb-dev")
endif()

if(NYX_BUILD_TESTS)
  find_package(doctest QUIET)
  if(NOT doctest_FOUND)
    nyx_missing("doctest" "doctest-dev")
  endif()
endif()

if(NYX_BUILD_BENCHMARKS)
  find_package(benchmark QUIET)
  if(NOT benchmark_FOUND)
    nyx_missing("Google Benchmark" "libbenchmark-dev")
  endif()
endif()
