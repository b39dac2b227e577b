# cmake -DEXAMPLE=<example_c_query|example_c_session> -DKIND=<query|session> -DFAKE_CLI=<path> -P run_example.cmake
# Runs a C example against the fake CLI; fails unless it exits 0 and prints what it should.
if(KIND STREQUAL "query")
  set(_args "hello from C" "{\"cli_path\":\"${FAKE_CLI}\"}")
  set(_expect "echo: hello from C.*exit code 0")
else()
  # Turn 1 asks for a Bash permission (the example's callback allows it), turn 2 echoes.
  set(_script "permission_turn Bash {\\\"command\\\":\\\"ls\\\"}\\nserve_turns")
  set(_args "{\"cli_path\":\"${FAKE_CLI}\",\"env\":{\"CCB_FAKE_SCRIPT_TEXT\":\"${_script}\"}}")
  set(_expect "\\[permission\\] Bash {\"command\":\"ls\"}.*echo: Now list the files in this directory")
endif()
execute_process(COMMAND ${EXAMPLE} ${_args} OUTPUT_VARIABLE _out ERROR_VARIABLE _err RESULT_VARIABLE _rc)
set(_all "${_err}${_out}")
if(NOT _rc EQUAL 0 OR NOT _all MATCHES "${_expect}")
  message(FATAL_ERROR "${EXAMPLE} exited with ${_rc}; wanted output matching '${_expect}'\nstdout:\n${_out}\nstderr:\n${_err}")
endif()
