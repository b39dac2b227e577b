# cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -P run.cmake
# Installs the built ccbridge into a scratch prefix, then configures, builds and runs the C
# consumer against it.
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "cmake --install failed")
endif()
foreach(_step
    "${CMAKE_COMMAND};-S;${SOURCE_DIR}/tests/capi/install;-B;${WORK_DIR}/build;-G;Ninja;-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix"
    "${CMAKE_COMMAND};--build;${WORK_DIR}/build"
    "${WORK_DIR}/build/c_consumer")
  execute_process(COMMAND ${_step} RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "failed: ${_step}")
  endif()
endforeach()
if(NOT EXISTS ${WORK_DIR}/prefix/include/ccbridge.h)
  message(FATAL_ERROR "ccbridge.h was not installed")
endif()
