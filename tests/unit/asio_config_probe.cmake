# Shows that the guard of lib/base/asio_config.hpp can fail: asio_config_probe.cpp, compiled as
# ccb_asio compiles (its definitions and the forced include), links against the core library;
# compiled with ASIO_NO_DEPRECATED as well, it must not link, and the linker must name the setting.
#   cmake -DCXX=... -DSOURCE=... -DHEADER=... -DASIO_INCLUDE=... -DDEFINITIONS=a|b -DLIBRARY=... -DWORK=... -P asio_config_probe.cmake
string(REPLACE "|" ";" DEFINITIONS "${DEFINITIONS}")
set(flags -std=c++17 -idirafter ${ASIO_INCLUDE} -include ${HEADER})
foreach(d IN LISTS DEFINITIONS)
  list(APPEND flags -D${d})
endforeach()
file(MAKE_DIRECTORY ${WORK})

function(build name)
  execute_process(COMMAND ${CXX} ${flags} ${ARGN} ${SOURCE} ${LIBRARY} -pthread -o ${WORK}/${name}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  set(rc ${rc} PARENT_SCOPE)
  set(out "${out}" PARENT_SCOPE)
endfunction()

build(same_settings)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the probe did not build with the library's own Asio settings:\n${out}")
endif()
build(other_settings -DASIO_NO_DEPRECATED)
if(rc EQUAL 0)
  message(FATAL_ERROR "the probe built with ASIO_NO_DEPRECATED linked against the library: no guard")
endif()
if(NOT out MATCHES "undefined reference to .ccbridge::detail::asio_NO_DEPRECATED_defined")
  message(FATAL_ERROR "the probe with ASIO_NO_DEPRECATED failed, but not on the guard's symbol:\n${out}")
endif()
message(STATUS "ok: with ASIO_NO_DEPRECATED the link fails on ccbridge::detail::asio_NO_DEPRECATED_defined")
