# cmake -DEXAMPLE=<exe> -DFAKE_CLI=<path> -DWORK=<dir> -P run_readme_example.cmake
# Puts the fake CLI on PATH as `claude` (the README's example uses the default lookup) and checks
# the example prints the echoed result and exits 0.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
file(CREATE_LINK ${FAKE_CLI} ${WORK}/claude SYMBOLIC)
execute_process(COMMAND ${CMAKE_COMMAND} -E env "PATH=${WORK}:$ENV{PATH}" CCB_FAKE_SCRIPT_TEXT=serve_turns ${EXAMPLE}
                OUTPUT_VARIABLE _out ERROR_VARIABLE _err RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0 OR NOT _out STREQUAL "echo: What is 2 + 2?\n")
  message(FATAL_ERROR "the README example exited with ${_rc}\nstdout:\n${_out}\nstderr:\n${_err}")
endif()
