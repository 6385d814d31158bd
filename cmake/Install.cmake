# install(): the library, the headers under include/nyx/FOLDER/, and a CMake package so that
# another project writes find_package(nyx) and target_link_libraries(app nyx::nyx).
include(CMakePackageConfigHelpers)

install(TARGETS nyx EXPORT nyxTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES nyx.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nyx)
foreach(folder ${NYX_FOLDERS})
  install(DIRECTORY ${folder}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nyx/${folder} FILES_MATCHING PATTERN "*.hpp")
endforeach()

install(EXPORT nyxTargets NAMESPACE nyx:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nyx)
configure_package_config_file(cmake/nyxConfig.cmake.in ${CMAKE_BINARY_DIR}/nyxConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nyx)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/nyxConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/nyxConfig.cmake ${CMAKE_BINARY_DIR}/nyxConfigVersion.cmake cmake/NyxDnnl.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nyx)
