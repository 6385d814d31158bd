# oneDNN's library and libgomp, the OpenMP runtime Debian builds it on, as the imported targets
# nyx::dnnl and nyx::gomp. Found by hand: Debian's dnnl-config.cmake asks for OpenCL, which nyx
# does not use (it runs oneDNN's CPU engine only). Included by Dependencies.cmake and, once
# installed, by nyxConfig.cmake, so that a project linking the static nyx finds them again.
find_path(NYX_DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
find_library(NYX_DNNL_LIBRARY dnnl)
find_library(NYX_GOMP_LIBRARY NAMES gomp libgomp.so.1)
if(NYX_DNNL_INCLUDE_DIR AND NYX_DNNL_LIBRARY AND NYX_GOMP_LIBRARY AND NOT TARGET nyx::dnnl)
  add_library(nyx::dnnl UNKNOWN IMPORTED)
  set_target_properties(nyx::dnnl PROPERTIES IMPORTED_LOCATION "${NYX_DNNL_LIBRARY}"
                        INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${NYX_DNNL_INCLUDE_DIR}")
  add_library(nyx::gomp UNKNOWN IMPORTED)
  set_target_properties(nyx::gomp PROPERTIES IMPORTED_LOCATION "${NYX_GOMP_LIBRARY}")
endif()
