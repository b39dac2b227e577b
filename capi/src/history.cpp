// Session history: the CLI's own transcripts (ccbridge/session_history.hpp), read as JSON text and
// edited in place, or given as text. No handles: every call is self-contained and safe from any
// thread.
#include "capi.hpp"

#include <cstdlib>
#include <memory>

using namespace ccbridge;
using namespace ccbridge::detail::capi;

namespace {

std::string_view text_of(const char *s) { return s ? std::string_view(s) : std::string_view(); }

// `len` bytes at `text`; NULL only with 0.
std::string_view text_of(const char *text, std::size_t len)
{
  if (!text && len) throw Error(errc::invalid_argument, "text is NULL");
  return text ? std::string_view(text, len) : std::string_view();
}

std::optional<std::string> opt_of(const char *s) { return s ? std::optional<std::string>(s) : std::nullopt; }

std::optional<std::size_t> limit_of(std::size_t limit) { return limit ? std::optional<std::size_t>(limit) : std::nullopt; }

void append_key(std::string &out, const char *key)
{
  out += ",\"";
  out += key;
  out += "\":";
}

void append_opt(std::string &out, const char *key, const std::optional<std::string> &v)
{
  if (!v) return;
  append_key(out, key);
  append_json_string(out, *v);
}

std::string info_json(const SessionInfo &s)
{
  std::string out = R"({"sessionId":)";
  append_json_string(out, s.session_id);
  append_key(out, "summary");
  append_json_string(out, s.summary);
  append_key(out, "lastModified");
  out += std::to_string(s.last_modified);
  append_key(out, "fileSize");
  out += std::to_string(s.file_size);
  append_opt(out, "customTitle", s.custom_title);
  append_opt(out, "firstPrompt", s.first_prompt);
  append_opt(out, "gitBranch", s.git_branch);
  append_opt(out, "cwd", s.cwd);
  append_opt(out, "tag", s.tag);
  if (s.created_at) {
    append_key(out, "createdAt");
    out += std::to_string(*s.created_at);
  }
  return out + "}";
}

std::string messages_json(const std::vector<SessionMessage> &messages)
{
  std::string out = "[";
  for (const auto &m : messages) {
    if (out.size() > 1) out += ',';
    out += R"({"type":)";
    append_json_string(out, m.type);
    append_key(out, "uuid");
    append_json_string(out, m.uuid);
    append_key(out, "session_id");
    append_json_string(out, m.session_id);
    if (m.message.exists()) {
      append_key(out, "message");
      out += m.message.dump();
    }
    append_opt(out, "parent_tool_use_id", m.parent_tool_use_id);
    append_opt(out, "parent_agent_id", m.parent_agent_id);
    out += '}';
  }
  return out + "]";
}

// Sets *out (required) to NULL, runs `make` for the JSON text, and hands it over.
template <class F> int json_result(char **out, F &&make)
{
  return guarded([&] {
    *need(out, "out") = nullptr;
    *out = dup_string(make());
    return CCB_OK;
  });
}

}  // namespace

int ccb_history_list_sessions(char **out, const char *directory, size_t limit, size_t offset, int include_worktrees)
{
  return json_result(out, [&] {
    std::string json = "[";
    for (const auto &s : list_sessions({std::string(text_of(directory)), limit_of(limit), offset, include_worktrees != 0})) {
      if (json.size() > 1) json += ',';
      json += info_json(s);
    }
    return json + "]";
  });
}

int ccb_history_session_info(char **out, const char *session_id, const char *directory)
{
  return json_result(out, [&] {
    std::string_view id = need(session_id, "session_id");
    if (!is_session_uuid(id)) throw Error(errc::invalid_argument, "Invalid session_id: " + std::string(id));
    auto info = get_session_info(id, text_of(directory));
    if (!info) throw Error(errc::session_not_found, "Session " + std::string(id) + " not found");
    return info_json(*info);
  });
}

int ccb_history_messages(char **out, const char *session_id, const char *directory, size_t limit, size_t offset)
{
  return json_result(out, [&] {
    return messages_json(get_session_messages(need(session_id, "session_id"), text_of(directory), limit_of(limit), offset));
  });
}

int ccb_history_list_subagents(char **out, const char *session_id, const char *directory)
{
  return json_result(out, [&] {
    std::string json = "[";
    for (const auto &id : list_subagents(need(session_id, "session_id"), text_of(directory))) {
      if (json.size() > 1) json += ',';
      append_json_string(json, id);
    }
    return json + "]";
  });
}

int ccb_history_subagent_messages(char **out, const char *session_id, const char *agent_id, const char *directory,
                                  size_t limit, size_t offset)
{
  return json_result(out, [&] {
    return messages_json(get_subagent_messages(need(session_id, "session_id"), need(agent_id, "agent_id"),
                                               text_of(directory), limit_of(limit), offset));
  });
}

int ccb_history_rename(const char *session_id, const char *title, const char *directory)
{
  return guarded([&] {
    rename_session(need(session_id, "session_id"), need(title, "title"), text_of(directory));
    return CCB_OK;
  });
}

int ccb_history_tag(const char *session_id, const char *tag, const char *directory)
{
  return guarded([&] {
    tag_session(need(session_id, "session_id"), tag ? std::optional<std::string_view>(tag) : std::nullopt,
                text_of(directory));
    return CCB_OK;
  });
}

int ccb_history_delete(const char *session_id, const char *directory)
{
  return guarded([&] {
    delete_session(need(session_id, "session_id"), text_of(directory));
    return CCB_OK;
  });
}

int ccb_history_fork(char **out, const char *session_id, const char *directory, const char *up_to_message_id,
                     const char *title)
{
  return json_result(out, [&] {
    ForkSessionOptions o{std::string(text_of(directory)), std::nullopt, std::nullopt};
    if (up_to_message_id) o.up_to_message_id = up_to_message_id;
    if (title) o.title = title;
    return fork_session(need(session_id, "session_id"), o);
  });
}

int ccb_history_info_from_text(char **out, const char *session_id, const char *text, size_t text_len,
                               int64_t last_modified, const char *project_path)
{
  return json_result(out, [&] {
    std::string_view id = need(session_id, "session_id");
    auto info = session_info_from_text(id, text_of(text, text_len), last_modified, text_of(project_path));
    if (!info) throw Error(errc::session_not_found, "Session " + std::string(id) + " has nothing to show");
    return info_json(*info);
  });
}

int ccb_history_messages_from_text(char **out, const char *text, size_t text_len, size_t limit, size_t offset)
{
  return json_result(out, [&] { return messages_json(session_messages_from_text(text_of(text, text_len), limit_of(limit), offset)); });
}

int ccb_history_subagent_messages_from_text(char **out, const char *text, size_t text_len, const char *parent_tool_use_id,
                                            const char *parent_agent_id, size_t limit, size_t offset)
{
  return json_result(out, [&] {
    return messages_json(subagent_messages_from_text(text_of(text, text_len), opt_of(parent_tool_use_id),
                                                     opt_of(parent_agent_id), limit_of(limit), offset));
  });
}

int ccb_history_fork_text(char **new_session_id, char **transcript, const char *session_id, const char *text,
                          size_t text_len, const char *up_to_message_id, const char *title)
{
  return guarded([&] {
    *need(new_session_id, "new_session_id") = nullptr;
    *need(transcript, "transcript") = nullptr;
    ForkedTranscript fork = fork_transcript(need(session_id, "session_id"), text_of(text, text_len),
                                            {std::string(), opt_of(up_to_message_id), opt_of(title)});
    std::unique_ptr<char, decltype(&std::free)> id(dup_string(fork.session_id), &std::free);
    *transcript = dup_string(fork.text);
    *new_session_id = id.release();
    return CCB_OK;
  });
}
