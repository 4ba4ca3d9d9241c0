# Cross-compiling for aarch64 with Debian's g++-aarch64-linux-gnu; libraries from Debian's arm64 multiarch packages
# (libfmt-dev:arm64, libgomp1:arm64); tests run under qemu-user (scripts/test-aarch64.sh installs all of it).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# ctest and doctest_discover_tests run the test binaries through qemu, with the arm64 loader and libraries of the
# multiarch packages (libc6:arm64, libgomp1:arm64, ...): the cross toolchain's own libc in /usr/aarch64-linux-gnu
# mixed with them hangs at start-up.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
