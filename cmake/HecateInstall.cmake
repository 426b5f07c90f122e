# cmake/HecateInstall.cmake — what `cmake --install` puts under the prefix for
# C and C++ projects (the Python wheel installs differently, CMakeLists.txt):
# include/hecate.h, the libraries, lib/cmake/hecate/ (find_package(hecate):
# targets hecate::hecate and hecate::hecate_f64) and lib/pkgconfig/hecate.pc.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS hecate hecate_f64 EXPORT hecateTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${HECATE_INCLUDE_DIR}/hecate.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(HECATE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/hecate)
install(EXPORT hecateTargets NAMESPACE hecate:: DESTINATION ${HECATE_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/hecateConfig.cmake.in
                              ${CMAKE_CURRENT_BINARY_DIR}/hecateConfig.cmake
                              INSTALL_DESTINATION ${HECATE_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/hecateConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)  # 0.x: a minor release may change the API
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/hecateConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/hecateConfigVersion.cmake
        DESTINATION ${HECATE_CMAKE_DIR})

configure_file(${CMAKE_CURRENT_LIST_DIR}/hecate.pc.in ${CMAKE_CURRENT_BINARY_DIR}/hecate.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/hecate.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
