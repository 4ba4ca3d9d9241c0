# cpack -G DEB: a Debian package of what cmake --install puts in place (cmake/SwirlInstall.cmake and the app): swirl
# on the PATH, the layer libraries, their headers and swirlConfig.cmake where find_package(swirl) looks. Build it
# from the portable preset (scripts/package.sh), so that it runs fast on any x86-64 CPU.
set(CPACK_PACKAGE_NAME swirl)
set(CPACK_PACKAGE_VENDOR "swirl")
set(CPACK_PACKAGE_CONTACT "swirl developers <swirl@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_INSTALL_DIRECTORY swirl)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
# The shared libraries swirl links (libfmt, libgomp, ...) from dpkg-shlibdeps; and what find_package(swirl)
# needs to find in turn (swirlConfig.cmake's find_dependency calls) for a program that links the static layers.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(swirl_dev_depends "libfmt-dev, nlohmann-json3-dev")
if(SWIRL_WITH_MPI)
  string(APPEND swirl_dev_depends ", libopenmpi-dev")
endif()
set(CPACK_DEBIAN_PACKAGE_DEPENDS "${swirl_dev_depends}")
include(CPack)
