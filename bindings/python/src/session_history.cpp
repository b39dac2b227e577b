// The session history (<ccbridge/session_history.hpp>) for Python: plain tuples in the official
// dataclasses' field order, which ccbridge/sessions.py turns into SDKSessionInfo and
// SessionMessage. File work runs without the GIL; the results are converted with it.
#include <ccbridge/session_history.hpp>

#include "py_json.hpp"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

namespace py = pybind11;

namespace {

py::object opt(const std::optional<std::string> &s) { return s ? py::object(py::str(*s)) : py::object(py::none()); }
py::object opt(const std::optional<std::int64_t> &v) { return v ? py::object(py::int_(*v)) : py::object(py::none()); }

py::tuple info_tuple(const ccbridge::SessionInfo &s)
{
  return py::make_tuple(s.session_id, s.summary, s.last_modified, s.file_size, opt(s.custom_title), opt(s.first_prompt),
                        opt(s.git_branch), opt(s.cwd), opt(s.tag), opt(s.created_at));
}

py::list message_tuples(const std::vector<ccbridge::SessionMessage> &messages)
{
  ccbridge::detail::python::PyJsonBuilder builder;
  py::list out;
  for (const auto &m : messages) {
    py::object message = py::none();
    if (m.message.exists()) {
      PyObject *o = builder.parse(m.message.dump());
      if (!o) throw py::error_already_set();
      message = py::reinterpret_steal<py::object>(o);
    }
    out.append(py::make_tuple(m.type, m.uuid, m.session_id, std::move(message), opt(m.parent_tool_use_id),
                              opt(m.parent_agent_id)));
  }
  return out;
}

std::optional<std::size_t> limit_of(std::optional<long long> limit)
{
  if (!limit || *limit <= 0) return std::nullopt;
  return static_cast<std::size_t>(*limit);
}

std::size_t offset_of(long long offset) { return offset > 0 ? static_cast<std::size_t>(offset) : 0; }

}  // namespace

void bind_session_history(py::module_ &m)
{
  m.def("project_key_for_directory", [](const std::string &directory) { return ccbridge::project_key_for_directory(directory); });
  m.def("claude_projects_dir", [] { return ccbridge::claude_projects_dir(); });
  m.def("session_transcript_path", &ccbridge::session_transcript_path, py::arg("session_id"), py::arg("directory"),
        py::call_guard<py::gil_scoped_release>());
  m.def("is_session_uuid", [](const std::string &text) { return ccbridge::is_session_uuid(text); }, py::arg("text"));
  m.def(
      "list_sessions",
      [](const std::string &directory, std::optional<long long> limit, long long offset, bool include_worktrees) {
        ccbridge::ListSessionsOptions o{directory, limit_of(limit), offset_of(offset), include_worktrees};
        std::vector<ccbridge::SessionInfo> found;
        {
          py::gil_scoped_release nogil;
          found = ccbridge::list_sessions(o);
        }
        py::list out;
        for (const auto &s : found) out.append(info_tuple(s));
        return out;
      },
      py::arg("directory"), py::arg("limit"), py::arg("offset"), py::arg("include_worktrees"));
  m.def(
      "get_session_info",
      [](const std::string &session_id, const std::string &directory) -> py::object {
        std::optional<ccbridge::SessionInfo> info;
        {
          py::gil_scoped_release nogil;
          info = ccbridge::get_session_info(session_id, directory);
        }
        return info ? py::object(info_tuple(*info)) : py::object(py::none());
      },
      py::arg("session_id"), py::arg("directory"));
  m.def(
      "get_session_messages",
      [](const std::string &session_id, const std::string &directory, std::optional<long long> limit, long long offset) {
        std::vector<ccbridge::SessionMessage> found;
        {
          py::gil_scoped_release nogil;
          found = ccbridge::get_session_messages(session_id, directory, limit_of(limit), offset_of(offset));
        }
        return message_tuples(found);
      },
      py::arg("session_id"), py::arg("directory"), py::arg("limit"), py::arg("offset"));
  m.def("list_subagents", &ccbridge::list_subagents, py::arg("session_id"), py::arg("directory"),
        py::call_guard<py::gil_scoped_release>());
  m.def(
      "get_subagent_messages",
      [](const std::string &session_id, const std::string &agent_id, const std::string &directory,
         std::optional<long long> limit, long long offset) {
        std::vector<ccbridge::SessionMessage> found;
        {
          py::gil_scoped_release nogil;
          found = ccbridge::get_subagent_messages(session_id, agent_id, directory, limit_of(limit), offset_of(offset));
        }
        return message_tuples(found);
      },
      py::arg("session_id"), py::arg("agent_id"), py::arg("directory"), py::arg("limit"), py::arg("offset"));
  m.def("rename_session", &ccbridge::rename_session, py::arg("session_id"), py::arg("title"), py::arg("directory"),
        py::call_guard<py::gil_scoped_release>());
  m.def(
      "tag_session",
      [](const std::string &session_id, std::optional<std::string> tag, const std::string &directory) {
        py::gil_scoped_release nogil;
        ccbridge::tag_session(session_id, tag ? std::optional<std::string_view>(*tag) : std::nullopt, directory);
      },
      py::arg("session_id"), py::arg("tag"), py::arg("directory"));
  m.def("delete_session", &ccbridge::delete_session, py::arg("session_id"), py::arg("directory"),
        py::call_guard<py::gil_scoped_release>());
  m.def(
      "fork_session",
      [](const std::string &session_id, const std::string &directory, std::optional<std::string> up_to_message_id,
         std::optional<std::string> title) {
        py::gil_scoped_release nogil;
        return ccbridge::fork_session(session_id, {directory, up_to_message_id, title});
      },
      py::arg("session_id"), py::arg("directory"), py::arg("up_to_message_id"), py::arg("title"));

  // The same over a transcript's text (a SessionStore's entries as JSONL).
  m.def(
      "session_info_from_text",
      [](const std::string &session_id, const std::string &text, std::int64_t last_modified,
         const std::string &project_path) -> py::object {
        std::optional<ccbridge::SessionInfo> info;
        {
          py::gil_scoped_release nogil;
          info = ccbridge::session_info_from_text(session_id, text, last_modified, project_path);
        }
        return info ? py::object(info_tuple(*info)) : py::object(py::none());
      },
      py::arg("session_id"), py::arg("text"), py::arg("last_modified"), py::arg("project_path"));
  m.def(
      "session_messages_from_text",
      [](const std::string &text, std::optional<long long> limit, long long offset) {
        std::vector<ccbridge::SessionMessage> found;
        {
          py::gil_scoped_release nogil;
          found = ccbridge::session_messages_from_text(text, limit_of(limit), offset_of(offset));
        }
        return message_tuples(found);
      },
      py::arg("text"), py::arg("limit"), py::arg("offset"));
  m.def(
      "subagent_messages_from_text",
      [](const std::string &text, std::optional<std::string> parent_tool_use_id,
         std::optional<std::string> parent_agent_id, std::optional<long long> limit, long long offset) {
        std::vector<ccbridge::SessionMessage> found;
        {
          py::gil_scoped_release nogil;
          found = ccbridge::subagent_messages_from_text(text, parent_tool_use_id, parent_agent_id, limit_of(limit),
                                                        offset_of(offset));
        }
        return message_tuples(found);
      },
      py::arg("text"), py::arg("parent_tool_use_id"), py::arg("parent_agent_id"), py::arg("limit"), py::arg("offset"));
  m.def(
      "first_prompt_of_entry",
      [](const std::string &line) {
        auto found = ccbridge::first_prompt_of_line(line);
        return py::make_tuple(opt(found.prompt), opt(found.command));
      },
      py::arg("line"));
  m.def(
      "fork_transcript",
      [](const std::string &session_id, const std::string &text, std::optional<std::string> up_to_message_id,
         std::optional<std::string> title) {
        ccbridge::ForkedTranscript fork;
        {
          py::gil_scoped_release nogil;
          fork = ccbridge::fork_transcript(session_id, text, {std::string(), up_to_message_id, title});
        }
        return py::make_tuple(fork.session_id, fork.text);
      },
      py::arg("session_id"), py::arg("text"), py::arg("up_to_message_id"), py::arg("title"));
}
