// cc-control's browser console at /: the page, its script and style, and
// the pinned xterm.js with its licence under /console/, all embedded at build time
// (console_files.hpp); Go's plain-text 404 for any other path of the profile's listener.
#include "server/profiles/cc_control/console_files.hpp"
#include "server/profiles/cc_control/routes.hpp"
#include "server/sha256.hpp"
#include "server/profiles/cc_control/wire.hpp"

#include <map>
#include <memory>

namespace ccbridge::detail::server::cc_control {
namespace {

// Scripts only from this origin, never inline. Styles may also be inline: xterm.js sizes and
// colours its DOM renderer through <style> elements it writes at run time (it takes no nonce).
constexpr char kPolicy[] = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
                           "frame-ancestors 'none'";

struct Asset {
  std::string_view body;
  const char *content_type;
  std::string etag;  // the content's hash: revalidated on every use (no-cache), 304 when unchanged
};

const char *content_type_of(std::string_view name)
{
  auto ends = [&](std::string_view ext) {
    return name.size() >= ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  return "text/plain; charset=utf-8";
}

// Path -> asset: the page at /, every other file under /console/.
std::map<std::string, Asset> console_assets()
{
  std::map<std::string, Asset> assets;
  for (std::size_t i = 0; i < kConsoleFiles_count; ++i) {
    const EmbeddedFile &f = kConsoleFiles[i];
    std::string_view body(reinterpret_cast<const char *>(f.data), f.size);
    Asset a{body, content_type_of(f.name), '"' + sha256_hex(body).substr(0, 32) + '"'};
    assets.emplace(std::string_view(f.name) == "index.html" ? std::string("/") : std::string("/console/") + f.name, a);
  }
  return assets;
}

HttpResponse serve(const Asset &a, const HttpRequest &req)
{
  HttpResponse res;
  res.content_type = a.content_type;
  if (req.header("if-none-match") == a.etag) res.status = 304;
  else if (req.method == "GET") res.body = std::string(a.body);
  res.headers = {{"Content-Security-Policy", kPolicy},
                 {"X-Content-Type-Options", "nosniff"},
                 {"X-Frame-Options", "DENY"},
                 {"Referrer-Policy", "no-referrer"},
                 {"Cache-Control", "no-cache"},
                 {"ETag", a.etag}};
  return res;
}

}  // namespace

void install_console(Control &, Router &r)
{
  auto assets = std::make_shared<const std::map<std::string, Asset>>(console_assets());
  r.mount("/", [assets](const HttpRequest &req, const HttpReply &reply) {
    auto it = assets->find(req.path);
    if (it == assets->end()) return reply(text_error(404, "404 page not found"));
    if (req.method != "GET" && req.method != "HEAD") {
      HttpResponse res = text_error(405, "method not allowed");
      res.headers.emplace_back("Allow", "GET, HEAD");
      return reply(std::move(res));
    }
    reply(serve(it->second, req));
  }, text_error);
}

}  // namespace ccbridge::detail::server::cc_control
