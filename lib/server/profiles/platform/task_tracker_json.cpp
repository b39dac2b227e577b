// The task tracker's values as seed 001's JSON (Task.progress, TaskResult).
#include "server/profiles/platform/task_tracker.hpp"

#include <cmath>

namespace ccbridge::detail::server::platform {

namespace {

void put(JsonWriter &w, const char *key, const std::string &value)
{
  w.Key(key);
  w.String(value);
}

void put(JsonWriter &w, const char *key, std::int64_t value)
{
  w.Key(key);
  w.Int64(value);
}

void write_file(JsonWriter &w, const FileChange &f)
{
  w.StartObject();
  put(w, "path", f.path);
  put(w, "action", f.action);
  put(w, "tool", f.tool);
  if (f.content) {
    put(w, "content", *f.content);
    if (f.content_truncated) {
      w.Key("contentTruncated");
      w.Bool(true);
    }
  }
  w.EndObject();
}

void write_command(JsonWriter &w, const CommandRun &c)
{
  w.StartObject();
  put(w, "command", c.command);
  if (c.finished) {
    put(w, "output", c.output);
    if (c.output_truncated) {
      w.Key("outputTruncated");
      w.Bool(true);
    }
    w.Key("isError");
    w.Bool(c.is_error);
  }
  w.EndObject();
}

void write_error(JsonWriter &w, const TaskError &e)
{
  w.StartObject();
  put(w, "code", e.code);
  put(w, "message", e.message);
  if (!e.details.empty()) {
    w.Key("details");
    w.RawValue(e.details.data(), e.details.size(), rapidjson::kObjectType);
  }
  w.EndObject();
}

void write_metrics(JsonWriter &w, const TaskResult &r)
{
  const ResourceUsage &u = r.usage;
  w.StartObject();
  put(w, "executionTime", r.execution_time_ms);
  w.Key("toolsUsed");
  w.StartArray();
  for (const auto &name : r.tools_used) w.String(name);
  w.EndArray();
  w.Key("resourceUsage");
  w.StartObject();
  put(w, "inputTokens", u.input_tokens);
  put(w, "outputTokens", u.output_tokens);
  put(w, "cacheReadTokens", u.cache_read_tokens);
  put(w, "cacheCreationTokens", u.cache_creation_tokens);
  w.Key("costUsd");
  w.Double(std::isfinite(u.cost_usd) ? u.cost_usd : 0.0);  // the Writer refuses inf and NaN
  put(w, "turns", u.turns);
  w.EndObject();
  w.EndObject();
}

// "files" or "commands": the entries, and how many max_entries left out (when any).
template <class T, class Write>
void write_list(JsonWriter &w, const char *key, const std::vector<T> &items, std::size_t omitted, Write write_one)
{
  w.Key(key);
  w.StartArray();
  for (const auto &item : items) write_one(w, item);
  w.EndArray();
  if (omitted == 0) return;
  std::string omitted_key = std::string(key) + "Omitted";
  w.Key(omitted_key.c_str(), static_cast<rapidjson::SizeType>(omitted_key.size()));
  w.Uint64(omitted);
}

}  // namespace

void TaskProgress::write(JsonWriter &w) const
{
  w.StartObject();
  w.Key("percentage");
  w.Int(percentage);
  if (!current_step.empty()) {
    put(w, "currentStep", current_step);
  }
  if (total_steps > 0) {
    w.Key("totalSteps");
    w.Int(total_steps);
  }
  w.EndObject();
}

void TaskResult::write(JsonWriter &w) const
{
  w.StartObject();
  w.Key("success");
  w.Bool(success);
  if (output) {
    put(w, "output", *output);
    if (output_truncated) {
      w.Key("outputTruncated");
      w.Bool(true);
    }
  }
  write_list(w, "files", files, files_omitted, write_file);
  write_list(w, "commands", commands, commands_omitted, write_command);
  if (error) {
    w.Key("error");
    write_error(w, *error);
  }
  w.Key("metrics");
  write_metrics(w, *this);
  w.EndObject();
}

std::string TaskResult::to_json() const
{
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  write(w);
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace ccbridge::detail::server::platform
