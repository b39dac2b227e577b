# All third-party dependencies come from system packages (scripts/setup.sh installs the Debian ones).
# Header-only dependencies become private INTERFACE targets linked as $<BUILD_INTERFACE:...> so they
# never leak into the installed export set.
find_package(Threads REQUIRED)

find_path(CCB_ASIO_INCLUDE_DIR asio.hpp)
if(NOT CCB_ASIO_INCLUDE_DIR)
  message(FATAL_ERROR "standalone Asio not found: run scripts/setup.sh (Debian package libasio-dev)")
endif()
# Asio: the one configuration of every object that can see it (the library, its tests, the C ABI;
# websocketpp's server too, through ccb_websocketpp). Two objects of one binary built with
# different Asio macros would see two definitions of the same templates, so no target sets Asio
# macros of its own: each takes these. ASIO_NO_DEPRECATED is not among them because websocketpp
# 0.8 uses Asio's deprecated names (and its allocation hooks); the core uses none of them.
# lib/base/asio_config.hpp, put in front of every translation unit here, makes an object built with
# other settings fail to link (docs/ARCHITECTURE.md, "One Asio configuration").
add_library(ccb_asio INTERFACE)
target_include_directories(ccb_asio SYSTEM INTERFACE ${CCB_ASIO_INCLUDE_DIR})
target_compile_definitions(ccb_asio INTERFACE ASIO_STANDALONE)
target_compile_options(ccb_asio INTERFACE "SHELL:-include ${PROJECT_SOURCE_DIR}/lib/base/asio_config.hpp")
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

# websocketpp (header-only) for the server, over ccb_asio. _WEBSOCKETPP_CPP11_STL_ (std:: instead
# of Boost) changes only websocketpp's own headers, which only the server's objects include.
if(CCB_BUILD_SERVER)
  find_path(CCB_WEBSOCKETPP_INCLUDE_DIR websocketpp/server.hpp)
  if(NOT CCB_WEBSOCKETPP_INCLUDE_DIR)
    message(FATAL_ERROR "websocketpp not found: run scripts/setup.sh (Debian package libwebsocketpp-dev)")
  endif()
  add_library(ccb_websocketpp INTERFACE)
  target_include_directories(ccb_websocketpp SYSTEM INTERFACE ${CCB_WEBSOCKETPP_INCLUDE_DIR})
  target_compile_definitions(ccb_websocketpp INTERFACE _WEBSOCKETPP_CPP11_STL_)
  target_link_libraries(ccb_websocketpp INTERFACE ccb_asio)
  # cc-control (seed 004): tokens and state in SQLite, SHA-256 from OpenSSL's libcrypto; TLS on
  # every listener (--tls-cert) through Asio's SSL stream over OpenSSL's libssl (and
  # `ccbridge agent`'s wss:// client).
  find_package(SQLite3 QUIET)
  if(NOT SQLite3_FOUND)
    message(FATAL_ERROR "SQLite not found: run scripts/setup.sh (Debian package libsqlite3-dev)")
  endif()
  find_package(OpenSSL QUIET COMPONENTS Crypto SSL)
  if(NOT OpenSSL_FOUND)
    message(FATAL_ERROR "OpenSSL not found: run scripts/setup.sh (Debian package libssl-dev)")
  endif()
endif()
