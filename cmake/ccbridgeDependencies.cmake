# All third-party dependencies come from system packages (scripts/setup.sh installs the Debian ones).
# Header-only dependencies become private INTERFACE targets linked as $<BUILD_INTERFACE:...> so they
# never leak into the installed export set.
find_package(Threads REQUIRED)

find_path(CCB_ASIO_INCLUDE_DIR asio.hpp)
if(NOT CCB_ASIO_INCLUDE_DIR)
  message(FATAL_ERROR "standalone Asio not found: run scripts/setup.sh (Debian package libasio-dev)")
endif()
add_library(ccb_asio INTERFACE)
target_include_directories(ccb_asio SYSTEM INTERFACE ${CCB_ASIO_INCLUDE_DIR})
target_compile_definitions(ccb_asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED)
target_link_libraries(ccb_asio INTERFACE Threads::Threads)

find_package(RapidJSON CONFIG QUIET)
find_path(CCB_RAPIDJSON_INCLUDE_DIR rapidjson/document.h HINTS ${RapidJSON_INCLUDE_DIRS} ${RAPIDJSON_INCLUDE_DIRS})
if(NOT CCB_RAPIDJSON_INCLUDE_DIR)
  message(FATAL_ERROR "RapidJSON not found: run scripts/setup.sh (Debian package rapidjson-dev)")
endif()
add_library(ccb_rapidjson INTERFACE)
target_include_directories(ccb_rapidjson SYSTEM INTERFACE ${CCB_RAPIDJSON_INCLUDE_DIR})
target_compile_definitions(ccb_rapidjson INTERFACE RAPIDJSON_HAS_STDSTRING=1)

find_package(fmt CONFIG REQUIRED)

if(CCB_BUILD_TESTS)
  find_package(doctest CONFIG REQUIRED)
endif()

# websocketpp (header-only) for the server. websocketpp 0.8 uses Asio's deprecated names, so the
# server's Asio target leaves ASIO_NO_DEPRECATED out.
if(CCB_BUILD_SERVER)
  find_path(CCB_WEBSOCKETPP_INCLUDE_DIR websocketpp/server.hpp)
  if(NOT CCB_WEBSOCKETPP_INCLUDE_DIR)
    message(FATAL_ERROR "websocketpp not found: run scripts/setup.sh (Debian package libwebsocketpp-dev)")
  endif()
  add_library(ccb_asio_wspp INTERFACE)
  target_include_directories(ccb_asio_wspp SYSTEM INTERFACE ${CCB_ASIO_INCLUDE_DIR} ${CCB_WEBSOCKETPP_INCLUDE_DIR})
  target_compile_definitions(ccb_asio_wspp INTERFACE ASIO_STANDALONE _WEBSOCKETPP_CPP11_STL_)
  target_link_libraries(ccb_asio_wspp INTERFACE Threads::Threads)
endif()
