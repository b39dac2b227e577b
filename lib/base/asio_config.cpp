// The symbols of the Asio settings this library is built with (see asio_config.hpp, which the
// ccb_asio target puts in front of this file too): objects built with other settings refer to
// symbols that nothing defines, and fail to link.
#include "base/asio_config.hpp"

// NOLINTNEXTLINE(bugprone-macro-parentheses): `name` is a declarator, not an expression
#define CCB_ASIO_DEFINE_(name) extern const char name = 0;

namespace ccbridge::detail {
CCB_ASIO_SETTINGS(CCB_ASIO_DEFINE_)
}  // namespace ccbridge::detail
