include(CMakePackageConfigHelpers)
set(CCB_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ccbridge)

install(TARGETS ccb_core EXPORT ccbridgeTargets
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/ ${PROJECT_BINARY_DIR}/include/ TYPE INCLUDE)
if(TARGET ccb_server)
  install(TARGETS ccb_server EXPORT ccbridgeTargets
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  # The server embeds xterm.js (the cc-control console): its licence and pinned versions go along.
  install(FILES ${CCB_XTERM_DIR}/xterm-LICENSE.txt ${CCB_XTERM_DIR}/addon-fit-LICENSE.txt ${CCB_XTERM_DIR}/VERSIONS
          DESTINATION ${CMAKE_INSTALL_DOCDIR}/xterm)
endif()
if(TARGET ccb_c)
  install(TARGETS ccb_c EXPORT ccbridgeTargets
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
          RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(FILES capi/include/ccbridge.h TYPE INCLUDE)
endif()
if(TARGET ccbridge_app)
  install(TARGETS ccbridge_app RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(EXPORT ccbridgeTargets NAMESPACE ccbridge:: DESTINATION ${CCB_CMAKE_DIR})
export(EXPORT ccbridgeTargets NAMESPACE ccbridge:: FILE ${PROJECT_BINARY_DIR}/ccbridgeTargets.cmake)
configure_package_config_file(cmake/ccbridgeConfig.cmake.in ${PROJECT_BINARY_DIR}/ccbridgeConfig.cmake
                              INSTALL_DESTINATION ${CCB_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ccbridgeConfigVersion.cmake
                                 COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/ccbridgeConfig.cmake ${PROJECT_BINARY_DIR}/ccbridgeConfigVersion.cmake
        DESTINATION ${CCB_CMAKE_DIR})
