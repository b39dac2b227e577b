# Warning and sanitizer flags for ccbridge's own targets (never forced on consumers).
add_library(ccb_warnings INTERFACE)
target_compile_options(ccb_warnings INTERFACE
  $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual -Wconversion -Wno-sign-conversion
    -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough>)
if(CCB_WARNINGS_AS_ERRORS)
  target_compile_options(ccb_warnings INTERFACE -Werror)
endif()

if(CCB_SANITIZERS)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

option(CCB_TSAN "Build with ThreadSanitizer" OFF)
if(CCB_TSAN)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()
