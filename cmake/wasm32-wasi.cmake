# CMake toolchain for Habanero guests: wasm32-wasi (WASI preview 1) with Debian 12's
# clang-22, lld-22, wasi-libc and libc++-22 for wasm32.
#
#   cmake -S cmake/guests -B build/guests \
#         -DCMAKE_TOOLCHAIN_FILE=$PWD/cmake/wasm32-wasi.cmake ...
#
# Packages: clang-22 lld-22 wasi-libc libc++-22-dev-wasm32 libc++abi-22-dev-wasm32
# libclang-rt-22-dev-wasm32 (scripts/ installs them).
#
# Debian quirks this file works around:
#   - The triple is `wasm32-wasi`. Clang 22 calls it deprecated in favour of
#     `wasm32-wasip1`, but with that triple it looks for crt1-reactor.o and libraries in
#     /usr/lib/wasm32-wasip1, which Debian does not ship. -Wno-deprecated silences the
#     driver's warning (it is the only switch that does).
#   - There is no WASI sysroot: headers live in /usr/include/wasm32-wasi and libraries in
#     /usr/lib/wasm32-wasi (libc) and /usr/lib/llvm-22/lib/wasm32-wasi (libc++). Without
#     -nostdlibinc the host's glibc headers leak in.
#   - CMake 3.25 knows no WASI platform, so the system is Generic; try_compile builds a
#     static library (no crt/link step needed) and executables get the suffix .wasm.
#
# Guests build without exceptions (-fno-exceptions; wasm exception handling is not
# enabled) and without RTTI. Linking uses wasm-ld via -fuse-ld=lld. Whether a module is a
# reactor (-mexec-model=reactor) is decided per target by habanero_add_extension().

set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR wasm32)
set(HABANERO_WASM_TOOLCHAIN ON)

set(_habanero_llvm_version 22)
set(_habanero_llvm_bin /usr/lib/llvm-${_habanero_llvm_version}/bin)

find_program(HABANERO_WASM_CLANG NAMES clang-${_habanero_llvm_version} clang
             HINTS ${_habanero_llvm_bin} NO_CMAKE_FIND_ROOT_PATH REQUIRED)
find_program(HABANERO_WASM_CLANGXX NAMES clang++-${_habanero_llvm_version} clang++
             HINTS ${_habanero_llvm_bin} NO_CMAKE_FIND_ROOT_PATH REQUIRED)
# Debian's clang-22 ships no llvm-ar; any ar can build the archives try_compile makes
# (extensions themselves link objects, never archives).
find_program(HABANERO_WASM_AR NAMES llvm-ar-${_habanero_llvm_version} llvm-ar ar
             HINTS ${_habanero_llvm_bin} NO_CMAKE_FIND_ROOT_PATH REQUIRED)
find_program(HABANERO_WASM_RANLIB NAMES llvm-ranlib-${_habanero_llvm_version} llvm-ranlib ranlib
             HINTS ${_habanero_llvm_bin} NO_CMAKE_FIND_ROOT_PATH REQUIRED)

set(CMAKE_C_COMPILER "${HABANERO_WASM_CLANG}")
set(CMAKE_CXX_COMPILER "${HABANERO_WASM_CLANGXX}")
set(CMAKE_AR "${HABANERO_WASM_AR}" CACHE FILEPATH "Archiver for wasm32-wasi")
set(CMAKE_RANLIB "${HABANERO_WASM_RANLIB}" CACHE FILEPATH "Ranlib for wasm32-wasi")
set(CMAKE_C_COMPILER_TARGET wasm32-wasi)
set(CMAKE_CXX_COMPILER_TARGET wasm32-wasi)

set(HABANERO_WASI_INCLUDE /usr/include/wasm32-wasi)
set(HABANERO_WASI_LIBDIRS /usr/lib/llvm-${_habanero_llvm_version}/lib/wasm32-wasi
                          /usr/lib/wasm32-wasi)
foreach(_dir ${HABANERO_WASI_INCLUDE}/stdio.h ${HABANERO_WASI_INCLUDE}/c++/v1/string
             /usr/lib/wasm32-wasi/crt1-reactor.o
             /usr/lib/llvm-${_habanero_llvm_version}/lib/wasm32-wasi/libc++.a)
  if(NOT EXISTS "${_dir}")
    message(FATAL_ERROR "wasm32-wasi toolchain: ${_dir} is missing; install wasi-libc "
                        "libc++-22-dev-wasm32 libc++abi-22-dev-wasm32 libclang-rt-22-dev-wasm32")
  endif()
endforeach()

# C++ headers must come first: libc++ wraps the C headers with #include_next.
set(CMAKE_C_FLAGS_INIT "-Wno-deprecated -nostdlibinc -isystem ${HABANERO_WASI_INCLUDE}")
set(CMAKE_CXX_FLAGS_INIT "-Wno-deprecated -nostdlibinc -isystem ${HABANERO_WASI_INCLUDE}/c++/v1 \
-isystem ${HABANERO_WASI_INCLUDE} -fno-exceptions -fno-rtti")
set(_habanero_link_init "-fuse-ld=lld")
foreach(_dir ${HABANERO_WASI_LIBDIRS})
  string(APPEND _habanero_link_init " -L${_dir}")
endforeach()
set(CMAKE_EXE_LINKER_FLAGS_INIT "${_habanero_link_init}")

# The Generic platform resets CMAKE_EXECUTABLE_SUFFIX; the per-language variables win.
set(CMAKE_EXECUTABLE_SUFFIX .wasm)
set(CMAKE_EXECUTABLE_SUFFIX_C .wasm)
set(CMAKE_EXECUTABLE_SUFFIX_CXX .wasm)

set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

