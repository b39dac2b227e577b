#include "server/client_options.hpp"

namespace ccbridge::detail::server {
namespace {

bool given(const JsonView &v) { return v.exists() && !v.is_null(); }

bool fail(std::string &why, std::string text)
{
  why = std::move(text);
  return false;
}

bool permission_mode(const Context &ctx, const JsonView &mode, Options &opts, std::string &why)
{
  if (!given(mode)) return true;
  auto m = mode.string();
  if (!m) return fail(why, "'permission_mode' must be a string");
  if (!ctx.mode_allowed(std::string(*m)))
    return fail(why, "permission_mode " + quoted(*m) + " is not allowed by this server");
  opts.permission_mode = std::string(*m);
  return true;
}

// Checked after the permission mode, which decides what an edit tool needs.
bool allowed_tools(const Context &ctx, const JsonView &tools, Options &opts, std::string &why)
{
  if (!given(tools)) return true;
  if (!tools.is_array()) return fail(why, "'allowed_tools' must be an array of strings");
  for (std::size_t i = 0; i < tools.size(); ++i) {
    auto t = tools[i].string();
    if (!t) return fail(why, "'allowed_tools' must be an array of strings");
    auto grant = ctx.client_tool(*t, opts.permission_mode.value_or(""), why);
    if (grant == Context::ToolGrant::refused) return false;
    if (grant == Context::ToolGrant::rule) opts.allowed_tools.emplace_back(*t);
  }
  return true;
}

bool thinking_tokens(const JsonView &mtt, Options &opts, std::string &why)
{
  if (!given(mtt)) return true;
  auto n = mtt.int64();
  if (!n || *n < 0 || *n > 10000000) return fail(why, "'max_thinking_tokens' must be a non-negative integer");
  opts.max_thinking_tokens = static_cast<int>(*n);
  return true;
}

bool model(const JsonView &m, Options &opts, std::string &why)
{
  if (!given(m)) return true;
  if (!m.is_string() || !Context::model_ok(m.string_or()))
    return fail(why, "'model' must be a model name such as \"claude-sonnet-4-5\" (letters, digits and ._-:/@[])");
  opts.model = std::string(m.string_or());
  return true;
}

bool cwd(const Context &ctx, const JsonView &dir, Options &opts, std::string &why)
{
  if (!given(dir)) return true;
  if (!dir.is_string()) return fail(why, "'cwd' must be a string");
  std::string resolved;
  if (!ctx.resolve_cwd(std::string(dir.string_or()), resolved, opts.cwd_dir, why)) return fail(why, "cwd: " + why);
  opts.cwd = resolved;
  return true;
}

bool continuation(const JsonView &cont, const JsonView &resume, Options &opts, std::string &why)
{
  if (given(cont)) {
    if (!cont.is_bool()) return fail(why, "'continue_conversation' must be true or false");
    opts.continue_conversation = *cont.boolean();
  }
  if (given(resume)) {
    if (!resume.is_string() || !Context::session_id_ok(resume.string_or()))
      return fail(why, "'resume' must be a Claude Code session id (a UUID)");
    opts.resume = std::string(resume.string_or());
  }
  return true;
}

}  // namespace

bool apply_client_options(const Context &ctx, const JsonView &o, Options &opts, std::string &why)
{
  return permission_mode(ctx, o["permission_mode"], opts, why) && allowed_tools(ctx, o["allowed_tools"], opts, why) &&
         thinking_tokens(o["max_thinking_tokens"], opts, why) && model(o["model"], opts, why) &&
         cwd(ctx, o["cwd"], opts, why) && continuation(o["continue_conversation"], o["resume"], opts, why);
}

}  // namespace ccbridge::detail::server
