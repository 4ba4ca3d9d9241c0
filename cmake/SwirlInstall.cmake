# cmake --install: the layer libraries, their headers under include/swirl/, and swirlConfig.cmake so that
# another project can find_package(swirl) and link swirl::nn (and the layers below come along).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(SWIRL_INSTALLED_LAYERS swirl_tensor swirl_autograd swirl_nn)
if(TARGET swirl_diffusion)
  list(APPEND SWIRL_INSTALLED_LAYERS swirl_diffusion)
endif()
install(TARGETS ${SWIRL_INSTALLED_LAYERS} EXPORT swirlTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
foreach(layer tensor autograd nn diffusion)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${layer}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/swirl/${layer}
          FILES_MATCHING PATTERN "*.h")
endforeach()
install(EXPORT swirlTargets NAMESPACE swirl:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/swirl)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/swirlConfig.cmake.in
  ${PROJECT_BINARY_DIR}/swirlConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/swirl)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/swirlConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/swirlConfig.cmake ${PROJECT_BINARY_DIR}/swirlConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/swirl)
