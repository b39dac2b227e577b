// What an application can reach in the public headers: the internals (each class's Impl or State,
// the constructors taking one, Runtime::impl()) are private, reached only by lib/ through
// detail::Access. Checked at compile time, as an application's code would see them.
#include <ccbridge/json.hpp>
#include <ccbridge/message.hpp>
#include <ccbridge/runtime.hpp>
#include <ccbridge/session.hpp>
#include <ccbridge/stream.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <memory>
#include <type_traits>

using namespace ccbridge;

namespace {

// True when T::Impl (T::State) can be named here.
template <class T, class = void> struct names_impl : std::false_type {};
template <class T> struct names_impl<T, std::void_t<typename T::Impl>> : std::true_type {};
template <class T, class = void> struct names_state : std::false_type {};
template <class T> struct names_state<T, std::void_t<typename T::State>> : std::true_type {};
// True when t.impl() can be called here.
template <class T, class = void> struct has_impl : std::false_type {};
template <class T> struct has_impl<T, std::void_t<decltype(std::declval<const T &>().impl())>> : std::true_type {};

static_assert(!names_impl<Runtime>::value && !has_impl<Runtime>::value, "Runtime's internals are private");
static_assert(!names_impl<Message>::value && !std::is_constructible_v<Message, std::nullptr_t>,
              "Message is made by the library (parse(), invalid()) or empty");
static_assert(!std::is_constructible_v<JsonView, std::shared_ptr<const void>, const void *>,
              "JsonViews come from parse_json() and from messages");
static_assert(!names_state<Stream>::value && !std::is_constructible_v<Stream, std::nullptr_t>,
              "Streams come from query() and Session");
static_assert(!names_impl<Session>::value, "Session's internals are private");
static_assert(!names_state<ToolReply>::value && !names_state<PermissionReply>::value, "replies' state is private");
// What applications keep: empty views and messages, and empty reply handles as placeholders.
static_assert(std::is_default_constructible_v<JsonView> && std::is_default_constructible_v<Message>);
static_assert(std::is_constructible_v<ToolReply, std::nullptr_t> &&
              std::is_constructible_v<PermissionReply, std::nullptr_t>);

}  // namespace

TEST_CASE("public api: an empty reply handle answers nothing and is neither answered nor cancelled")
{
  ToolReply tool(nullptr);
  tool(ToolResult::text("ignored"));
  CHECK_FALSE(tool.answered());
  CHECK_FALSE(tool.cancelled());
  PermissionReply permission(nullptr);
  permission(PermissionDecision::allow());
  CHECK_FALSE(permission.answered());
  CHECK_FALSE(permission.cancelled());
}
