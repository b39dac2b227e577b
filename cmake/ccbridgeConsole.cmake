# The cc-control console (lib/server/profiles/cc_control/console/) and the xterm.js it runs,
# embedded into the server as a generated source. xterm.js is not fetched here: it comes from
# the cache scripts/fetch-xterm.sh fills (scripts/setup.sh runs it), checked offline against its
# pinned integrity and extracted into the build tree.
set(CCB_XTERM_DIR ${PROJECT_BINARY_DIR}/xterm CACHE INTERNAL "xterm.js files extracted for the console")
set(fetch ${PROJECT_SOURCE_DIR}/scripts/fetch-xterm.sh)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${fetch})
execute_process(COMMAND bash ${fetch} --offline ${CCB_XTERM_DIR}
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "xterm.js for the cc-control console is not available:\n${err}"
                      "Run scripts/fetch-xterm.sh once with network (scripts/setup.sh runs it), then configure again.")
endif()

set(console ${PROJECT_SOURCE_DIR}/lib/server/profiles/cc_control/console)
set(CCB_CONSOLE_FILES
  index.html=${console}/index.html
  console.js=${console}/console.js
  console.css=${console}/console.css
  xterm.js=${CCB_XTERM_DIR}/xterm.js
  xterm.css=${CCB_XTERM_DIR}/xterm.css
  addon-fit.js=${CCB_XTERM_DIR}/addon-fit.js
  xterm-LICENSE.txt=${CCB_XTERM_DIR}/xterm-LICENSE.txt
  addon-fit-LICENSE.txt=${CCB_XTERM_DIR}/addon-fit-LICENSE.txt)
set(paths "")
foreach(pair IN LISTS CCB_CONSOLE_FILES)
  string(REGEX REPLACE "^[^=]*=" "" path "${pair}")
  list(APPEND paths ${path})
endforeach()
string(REPLACE ";" "|" files_arg "${CCB_CONSOLE_FILES}")
set(CCB_CONSOLE_SOURCE ${PROJECT_BINARY_DIR}/generated/cc_control_console_files.cpp)
add_custom_command(
  OUTPUT ${CCB_CONSOLE_SOURCE}
  COMMAND ${CMAKE_COMMAND} -DOUT=${CCB_CONSOLE_SOURCE} -DHEADER=server/profiles/cc_control/console_files.hpp
          -DNAMESPACE=ccbridge::detail::server::cc_control -DSYMBOL=kConsoleFiles "-DFILES=${files_arg}"
          -P ${PROJECT_SOURCE_DIR}/cmake/embed_files.cmake
  DEPENDS ${paths} ${PROJECT_SOURCE_DIR}/cmake/embed_files.cmake
  COMMENT "Embedding the cc-control console and xterm.js"
  VERBATIM)
