# habanero_add_extension(): builds one Habanero extension (a wasm32-wasi reactor module)
# and places it, with its manifest, where the host looks for extensions.
#
#   habanero_add_extension(NAME hello SOURCES hello.cc MANIFEST hello.manifest.toml)
#
# Produces ${HABANERO_WASM_OUT}/<name>.wasm and ${HABANERO_WASM_OUT}/<name>.manifest.toml
# (the manifest is copied at configure time and again whenever it changes). The CMake
# target is named habanero_ext_<name>.
#
# Arguments:
#   NAME <name>        module name; must equal `name = "..."` in the manifest.
#   SOURCES <files..>  C and/or C++ sources (C++20, no exceptions, no RTTI).
#   MANIFEST <file>    the sidecar manifest (docs/abi.md, src/runtime/manifest.h).
#   NO_ABI_EXPORT      do not link sdk/c/habanero_abi.c, so the module does not export
#                      habanero_abi_v1 (for test modules that the host must refuse).
#   STACK_SIZE <n>     shadow-stack bytes (default 65536). The stack sits below the data,
#                      so overflowing it traps instead of corrupting memory.
#   NLOHMANN_JSON      make <nlohmann/json.hpp> (the system's, header-only) includable, built
#                      with JSON_NOEXCEPTION: use the non-throwing parse overload and check
#                      types before get<>(), since a would-be throw aborts (a trap).
#
# Every module: -O2, include dirs sdk/c and sdk/cpp — <habanero.hh> (one function per host
# call) and the guest library <habanero/*.hh> (header-only: pages, forms, JSON, settings, kv
# records …; sdk/README.md) — reactor exec model (exports _initialize; the host calls it
# before habanero_on_request), names stripped. Most of the library's headers include
# <nlohmann/json.hpp>: ask for NLOHMANN_JSON.
# Needs the toolchain cmake/wasm32-wasi.cmake and HABANERO_WASM_OUT.
include_guard(GLOBAL)

get_filename_component(_HABANERO_SDK_DIR "${CMAKE_CURRENT_LIST_DIR}/../sdk" ABSOLUTE)
set(_HABANERO_SDK_DIR "${_HABANERO_SDK_DIR}" CACHE INTERNAL "")

function(habanero_add_extension)
  cmake_parse_arguments(PARSE_ARGV 0 EXT "NO_ABI_EXPORT;NLOHMANN_JSON" "NAME;MANIFEST;STACK_SIZE" "SOURCES")
  if(EXT_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "habanero_add_extension: unexpected arguments: ${EXT_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT EXT_NAME MATCHES "^[a-z0-9][a-z0-9_-]*$")
    message(FATAL_ERROR "habanero_add_extension: NAME '${EXT_NAME}' must match [a-z0-9][a-z0-9_-]*")
  endif()
  if(NOT EXT_SOURCES OR NOT EXT_MANIFEST)
    message(FATAL_ERROR "habanero_add_extension(${EXT_NAME}): SOURCES and MANIFEST are required")
  endif()
  if(NOT HABANERO_WASM_TOOLCHAIN)
    message(FATAL_ERROR "habanero_add_extension(${EXT_NAME}): configure with "
                        "-DCMAKE_TOOLCHAIN_FILE=cmake/wasm32-wasi.cmake")
  endif()
  if(NOT HABANERO_WASM_OUT)
    message(FATAL_ERROR "habanero_add_extension(${EXT_NAME}): HABANERO_WASM_OUT is not set")
  endif()
  if(NOT EXT_STACK_SIZE)
    set(EXT_STACK_SIZE 65536)
  endif()

  # The manifest must name this module; catch a copy-pasted manifest at configure time.
  get_filename_component(manifest "${EXT_MANIFEST}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  if(NOT EXISTS "${manifest}")
    message(FATAL_ERROR "habanero_add_extension(${EXT_NAME}): no manifest ${manifest}")
  endif()
  file(STRINGS "${manifest}" name_lines REGEX "^[ \t]*name[ \t]*=")
  if(NOT name_lines MATCHES "^[ \t]*name[ \t]*=[ \t]*\"([^\"]*)\"")
    message(FATAL_ERROR "habanero_add_extension(${EXT_NAME}): ${manifest} has no name = \"...\"")
  endif()
  if(NOT CMAKE_MATCH_1 STREQUAL EXT_NAME)
    message(FATAL_ERROR "habanero_add_extension(${EXT_NAME}): ${manifest} names "
                        "'${CMAKE_MATCH_1}'")
  endif()

  set(target habanero_ext_${EXT_NAME})
  set(sources ${EXT_SOURCES})
  if(NOT EXT_NO_ABI_EXPORT)
    list(APPEND sources "${_HABANERO_SDK_DIR}/c/habanero_abi.c")
  endif()
  add_executable(${target} ${sources})
  target_include_directories(${target} PRIVATE "${_HABANERO_SDK_DIR}/c" "${_HABANERO_SDK_DIR}/cpp")
  target_compile_options(${target} PRIVATE -O2 -Wall -Wextra -Wno-unused-parameter)
  if(EXT_NLOHMANN_JSON)
    # Guests compile with -nostdlibinc, so /usr/include itself must not be added (glibc's
    # headers would leak in); a directory holding only a link to the json headers is.
    set(json_dir "${CMAKE_BINARY_DIR}/nlohmann_json_include")
    if(NOT EXISTS "/usr/include/nlohmann/json.hpp")
      message(FATAL_ERROR "habanero_add_extension(${EXT_NAME}): /usr/include/nlohmann/json.hpp "
                          "is missing; install nlohmann-json3-dev")
    endif()
    file(MAKE_DIRECTORY "${json_dir}")
    file(CREATE_LINK "/usr/include/nlohmann" "${json_dir}/nlohmann" SYMBOLIC)
    target_include_directories(${target} SYSTEM PRIVATE "${json_dir}")
    target_compile_definitions(${target} PRIVATE JSON_NOEXCEPTION)
  endif()
  target_link_options(${target} PRIVATE
    -mexec-model=reactor
    -Wl,--strip-all
    -Wl,--stack-first
    -Wl,-z,stack-size=${EXT_STACK_SIZE})
  set_target_properties(${target} PROPERTIES
    C_STANDARD 11
    C_STANDARD_REQUIRED ON
    CXX_STANDARD 20
    CXX_STANDARD_REQUIRED ON
    CXX_EXTENSIONS OFF
    OUTPUT_NAME "${EXT_NAME}"
    SUFFIX ".wasm"
    # A generator expression keeps multi-config generators from adding a subdirectory.
    RUNTIME_OUTPUT_DIRECTORY "$<1:${HABANERO_WASM_OUT}>")

  configure_file("${manifest}" "${HABANERO_WASM_OUT}/${EXT_NAME}.manifest.toml" COPYONLY)
endfunction()
