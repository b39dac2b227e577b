// Built by asio_config_probe.cmake against the core library, with the library's Asio settings and
// with one more: the first must link, the second must not (lib/base/asio_config.hpp).
#include <asio/io_context.hpp>

int main()
{
  asio::io_context io;
  return static_cast<int>(io.poll());
}
