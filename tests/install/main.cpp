// Builds against the installed headers and library only; checks the version macros, the option
// mapping and that a missing CLI is reported as such.
#include <ccbridge/ccbridge.hpp>
#include <ccbridge/server.hpp>

#include <cstdio>

int main()
{
  static_assert(CCB_VERSION_CHECK(0, 1, 0), "version macros");
  ccbridge::Options opts;
  opts.model = "m";
  auto args = ccbridge::build_cli_args(opts);
  opts.cli_path = "/nonexistent/claude";
  try {
    ccbridge::query("hi", opts);
  } catch (const ccbridge::Error &e) {
    if (e.code() == ccbridge::errc::cli_not_found) {
      // The server library links and binds a listener on a free port.
      ccbridge::Runtime rt;
      ccbridge::ServerConfig cfg;
      cfg.log.level = ccbridge::ServerLog::Level::off;
      ccbridge::Server server(rt, cfg);
      server.start();
      unsigned port = server.endpoints().at(0).port;
      server.stop();
      std::printf("consumer ok: %zu args, %s, server bound port %u\n", args.size(), CCB_VERSION_STRING, port);
      return port ? 0 : 1;
    }
  }
  return 1;
}
