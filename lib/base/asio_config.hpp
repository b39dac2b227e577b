// One Asio configuration in every binary (docs/ARCHITECTURE.md, "One Asio configuration").
//
// Asio's settings are macros, and two objects built with different ones see two different
// definitions of the same templates: an ODR violation that links silently and misbehaves at run
// time. So every object that can see Asio is built with the definitions of the one CMake target
// `ccb_asio` (cmake/ccbridgeDependencies.cmake), which also puts this header in front of each of
// its translation units (-include). Here each setting becomes a reference to a symbol that names
// the setting and whether it is defined; asio_config.cpp, built into the core library with the
// agreed settings, defines only the symbols of those. An object built otherwise does not link:
//   undefined reference to `ccbridge::detail::asio_NO_DEPRECATED_defined'
// means that object saw ASIO_NO_DEPRECATED and the library did not. Take ccb_asio instead of
// setting Asio macros on a target or in a source file.
#pragma once

#ifdef __cplusplus

// Asio derives some settings from the standard library's own configuration macros, which exist
// only once a library header has been included: ASIO_HAS_STD_ALIGNED_ALLOC needs libstdc++'s
// _GLIBCXX_HAVE_ALIGNED_ALLOC. A file whose first include is an Asio header would otherwise
// allocate handlers with operator new while the rest free them with free() (the inline
// aligned_new / aligned_delete of two configurations in one binary; AddressSanitizer reports an
// alloc-dealloc mismatch). One small library header here, in front of every file, settles it.
#include <cstddef>

// The settings that change Asio's classes or the code its templates generate (one symbol each).
#ifdef ASIO_STANDALONE
#  define CCB_ASIO_STANDALONE_ asio_STANDALONE_defined
#else
#  define CCB_ASIO_STANDALONE_ asio_STANDALONE_undefined
#endif
#ifdef ASIO_NO_DEPRECATED
#  define CCB_ASIO_NO_DEPRECATED_ asio_NO_DEPRECATED_defined
#else
#  define CCB_ASIO_NO_DEPRECATED_ asio_NO_DEPRECATED_undefined
#endif
#ifdef ASIO_NO_TS_EXECUTORS
#  define CCB_ASIO_NO_TS_EXECUTORS_ asio_NO_TS_EXECUTORS_defined
#else
#  define CCB_ASIO_NO_TS_EXECUTORS_ asio_NO_TS_EXECUTORS_undefined
#endif
#ifdef ASIO_USE_TS_EXECUTOR_AS_DEFAULT
#  define CCB_ASIO_TS_EXECUTOR_DEFAULT_ asio_USE_TS_EXECUTOR_AS_DEFAULT_defined
#else
#  define CCB_ASIO_TS_EXECUTOR_DEFAULT_ asio_USE_TS_EXECUTOR_AS_DEFAULT_undefined
#endif
#ifdef ASIO_ENABLE_HANDLER_TRACKING
#  define CCB_ASIO_HANDLER_TRACKING_ asio_ENABLE_HANDLER_TRACKING_defined
#else
#  define CCB_ASIO_HANDLER_TRACKING_ asio_ENABLE_HANDLER_TRACKING_undefined
#endif
#ifdef ASIO_DISABLE_THREADS
#  define CCB_ASIO_DISABLE_THREADS_ asio_DISABLE_THREADS_defined
#else
#  define CCB_ASIO_DISABLE_THREADS_ asio_DISABLE_THREADS_undefined
#endif
#ifdef ASIO_SEPARATE_COMPILATION
#  define CCB_ASIO_SEPARATE_COMPILATION_ asio_SEPARATE_COMPILATION_defined
#else
#  define CCB_ASIO_SEPARATE_COMPILATION_ asio_SEPARATE_COMPILATION_undefined
#endif
#ifdef ASIO_HAS_IO_URING
#  define CCB_ASIO_IO_URING_ asio_HAS_IO_URING_defined
#else
#  define CCB_ASIO_IO_URING_ asio_HAS_IO_URING_undefined
#endif
#ifdef ASIO_DISABLE_EPOLL
#  define CCB_ASIO_DISABLE_EPOLL_ asio_DISABLE_EPOLL_defined
#else
#  define CCB_ASIO_DISABLE_EPOLL_ asio_DISABLE_EPOLL_undefined
#endif

#define CCB_ASIO_SETTINGS(X)                                                                      \
  X(CCB_ASIO_STANDALONE_) X(CCB_ASIO_NO_DEPRECATED_) X(CCB_ASIO_NO_TS_EXECUTORS_)                 \
  X(CCB_ASIO_TS_EXECUTOR_DEFAULT_) X(CCB_ASIO_HANDLER_TRACKING_) X(CCB_ASIO_DISABLE_THREADS_)     \
  X(CCB_ASIO_SEPARATE_COMPILATION_) X(CCB_ASIO_IO_URING_) X(CCB_ASIO_DISABLE_EPOLL_)

// Exported: the server library and the executables find them in the core library.
// NOLINTNEXTLINE(bugprone-macro-parentheses): `name` is a declarator, not an expression
#define CCB_ASIO_DECLARE_(name) extern const char name __attribute__((visibility("default")));
#define CCB_ASIO_ADDRESS_(name) &(name),

namespace ccbridge::detail {
CCB_ASIO_SETTINGS(CCB_ASIO_DECLARE_)
// Kept in every object ("used"), so that each one needs the symbols of the settings it saw.
[[gnu::used]] static const char *const asio_settings_seen[] = {CCB_ASIO_SETTINGS(CCB_ASIO_ADDRESS_)};
}  // namespace ccbridge::detail

#endif
