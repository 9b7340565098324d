# habanero_add_extension_test(): a native flow test of one extension against the fake host
# of sdk/testing (fake_host.h). Include this file from a CMake list of the Habanero build
# (it needs the host's habanero_http, habanero_crypto, habanero_auth and habanero_outbound
# targets, GoogleTest and nlohmann_json).
#
#   habanero_add_extension_test(
#     NAME password_flow_test                         # the test executable
#     EXTENSION_DIR ${CMAKE_SOURCE_DIR}/extensions/password
#     SOURCES password_flow_test.cc                   # the test's own sources
#     [EXTENSION_SOURCES a.cc b.cc]                   # default: every *.cc and *.c of the dir
#     [INCLUDE_DIRS dir...]                           # more include dirs for the extension
#     [LIBS target...])
#
# The extension's sources are compiled natively as the guest build compiles them: C++20,
# include dirs sdk/c, sdk/cpp, the extension's folder, its parent and extensions/common, and
# JSON_NOEXCEPTION (a would-be nlohmann exception aborts, as in a -fno-exceptions guest).
# One extension per test binary: each defines the module's entry points. Tests run with
# ctest through gtest_discover_tests.
include_guard(GLOBAL)
include(GoogleTest)

set(HABANERO_SDK_TESTING_DIR "${CMAKE_CURRENT_LIST_DIR}")
get_filename_component(_habanero_sdk_dir "${CMAKE_CURRENT_LIST_DIR}" DIRECTORY)
get_filename_component(_habanero_root "${_habanero_sdk_dir}" DIRECTORY)

# The fake host itself, compiled once.
add_library(habanero_fake_host STATIC "${HABANERO_SDK_TESTING_DIR}/fake_host.cc")
target_include_directories(habanero_fake_host PUBLIC
  "${HABANERO_SDK_TESTING_DIR}" "${_habanero_sdk_dir}/c" "${_habanero_sdk_dir}/cpp")
target_include_directories(habanero_fake_host PRIVATE "${_habanero_root}/src")
target_compile_definitions(habanero_fake_host PUBLIC JSON_NOEXCEPTION)
target_link_libraries(habanero_fake_host
  PUBLIC nlohmann_json::nlohmann_json
  PRIVATE habanero_http habanero_crypto habanero_auth habanero_outbound OpenSSL::Crypto)

function(habanero_add_extension_test)
  cmake_parse_arguments(T "" "NAME;EXTENSION_DIR" "SOURCES;EXTENSION_SOURCES;INCLUDE_DIRS;LIBS"
                        ${ARGN})
  if(NOT T_NAME OR NOT T_EXTENSION_DIR OR NOT T_SOURCES)
    message(FATAL_ERROR "habanero_add_extension_test: NAME, EXTENSION_DIR and SOURCES are required")
  endif()
  get_filename_component(_dir "${T_EXTENSION_DIR}" ABSOLUTE)
  if(T_EXTENSION_SOURCES)
    set(_ext "")
    foreach(_s IN LISTS T_EXTENSION_SOURCES)
      list(APPEND _ext "${_dir}/${_s}")
    endforeach()
  else()
    file(GLOB _ext CONFIGURE_DEPENDS "${_dir}/*.cc" "${_dir}/*.c")
  endif()
  if(NOT _ext)
    message(FATAL_ERROR "habanero_add_extension_test(${T_NAME}): no sources in ${_dir}")
  endif()
  get_filename_component(_parent "${_dir}" DIRECTORY)
  add_executable(${T_NAME} ${T_SOURCES} ${_ext})
  target_include_directories(${T_NAME} PRIVATE
    "${_dir}" "${_parent}" "${_parent}/common" ${T_INCLUDE_DIRS})
  # Tests build Requests with designated initializers; the omitted members have defaults.
  target_compile_options(${T_NAME} PRIVATE -Wno-missing-field-initializers)
  target_link_libraries(${T_NAME} PRIVATE habanero_fake_host ${T_LIBS}
                        GTest::gtest GTest::gtest_main GTest::gmock)
  gtest_discover_tests(${T_NAME} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 120)
endfunction()
