# FindCAF: Debian's libcaf-dev (0.17.6) ships no CMake config.
# Defines CAF::core, CAF::io and CAF::openssl, and CAF_VERSION (e.g. 1706).
find_path(CAF_INCLUDE_DIR caf/all.hpp)
foreach(comp core io openssl)
  find_library(CAF_${comp}_LIBRARY NAMES caf_${comp})
endforeach()
if(CAF_INCLUDE_DIR)
  file(STRINGS "${CAF_INCLUDE_DIR}/caf/config.hpp" _caf_ver REGEX "^#define CAF_VERSION [0-9]+")
  string(REGEX REPLACE ".* ([0-9]+)$" "\\1" CAF_VERSION "${_caf_ver}")
endif()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CAF
  REQUIRED_VARS CAF_INCLUDE_DIR CAF_core_LIBRARY CAF_io_LIBRARY CAF_openssl_LIBRARY
  VERSION_VAR CAF_VERSION)
if(CAF_FOUND AND NOT TARGET CAF::core)
  if(NOT CAF_VERSION EQUAL 1706)
    message(FATAL_ERROR "troupe needs CAF 0.17.6 (1706); found ${CAF_VERSION}")
  endif()
  find_package(Threads REQUIRED)
  find_package(OpenSSL REQUIRED)
  foreach(comp core io openssl)
    add_library(CAF::${comp} SHARED IMPORTED)
    set_target_properties(CAF::${comp} PROPERTIES
      IMPORTED_LOCATION "${CAF_${comp}_LIBRARY}"
      INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
      INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}")
  endforeach()
  target_link_libraries(CAF::core INTERFACE Threads::Threads)
  target_link_libraries(CAF::io INTERFACE CAF::core)
  target_link_libraries(CAF::openssl INTERFACE CAF::io OpenSSL::SSL OpenSSL::Crypto)
endif()
