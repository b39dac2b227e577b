// The platform's task tracker: status, progress and result of one turn, from the real CLI's lines
// (tests/fixtures/transcripts). The pinned CLIs have no TodoWrite (they have TaskCreate/TaskUpdate)
// and no Edit run was recorded, so those lines are made in the recorded lines' shape.
#include "server/profiles/platform/task_tracker.hpp"

#include <ccbridge/json.hpp>
#include <ccbridge/message.hpp>

#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <vector>

using namespace ccbridge;
using namespace ccbridge::detail::server::platform;

namespace {

std::vector<Message> transcript(const std::string &name)
{
  std::ifstream in(CCB_FIXTURES_DIR "/transcripts/" + name + ".jsonl");
  std::vector<Message> out;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && line[0] == '{') out.push_back(Message::parse(line));
  REQUIRE(!out.empty());
  return out;
}

// Feeds the messages of one turn (up to and with the first result after `from`) and returns the
// status after each message that changed something. `from` becomes the index after that result.
std::vector<std::string> feed(TaskTracker &t, const std::vector<Message> &msgs, std::size_t *from = nullptr)
{
  std::vector<std::string> seen;
  std::size_t i = from ? *from : 0;
  for (; i < msgs.size(); ++i) {
    t.on_message(msgs[i]);
    if (t.changed()) seen.push_back(to_string(t.status()));
    if (msgs[i].is(MessageType::result)) break;
  }
  if (from) *from = i + 1;
  return seen;
}

std::vector<std::string> list(std::initializer_list<const char *> items) { return {items.begin(), items.end()}; }

// An assistant line with one tool_use block, in the shape the CLI prints (CLI-OBSERVED.md 9).
Message tool_use(const std::string &id, const std::string &name, const std::string &input,
                 const std::string &parent = "null")
{
  return Message::parse(R"({"type":"assistant","message":{"id":"msg_t","type":"message","role":"assistant",)"
                        R"("model":"claude-opus-4-8","content":[{"type":"tool_use","id":")" +
                        id + R"(","name":")" + name + R"(","input":)" + input +
                        R"(}],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}},)"
                        R"("parent_tool_use_id":)" +
                        parent + R"(,"session_id":"s","uuid":"u"})");
}

// A user line with one tool_result; `structured` is the line's tool_use_result ("" for none).
Message tool_result(const std::string &id, const std::string &content, bool is_error = false,
                    const std::string &structured = "")
{
  std::string text;
  append_json_string(text, content);
  std::string line = R"({"type":"user","message":{"role":"user","content":[{"tool_use_id":")" + id +
                     R"(","type":"tool_result","content":)" + text + R"(,"is_error":)" + (is_error ? "true" : "false") +
                     R"(}]},"parent_tool_use_id":null,"session_id":"s","uuid":"u")";
  if (!structured.empty()) line += R"(,"tool_use_result":)" + structured;
  return Message::parse(line + "}");
}

Message text(const std::string &words)
{
  std::string quoted;
  append_json_string(quoted, words);
  return Message::parse(R"({"type":"assistant","message":{"id":"msg_x","type":"message","role":"assistant",)"
                        R"("model":"claude-opus-4-8","content":[{"type":"text","text":)" +
                        quoted + R"(}],"stop_reason":null,"usage":{}},"parent_tool_use_id":null,"session_id":"s"})");
}

Message success(const std::string &words = "done")
{
  return Message::parse(R"({"type":"result","subtype":"success","is_error":false,"duration_ms":1200,"num_turns":3,)"
                        R"("result":")" +
                        words + R"(","total_cost_usd":0.5,"usage":{"input_tokens":10,"output_tokens":20}})");
}

JsonView result_json(const TaskTracker &t) { return parse_json(t.result().to_json()); }

}  // namespace

TEST_CASE("platform task tracker: a text-only turn is fast: planning, then completed at 100")
{
  TaskTracker t;
  CHECK(t.status() == TaskStatus::pending);
  CHECK(t.progress().percentage == 0);
  CHECK_FALSE(t.changed());
  CHECK(feed(t, transcript("a_oneshot_say_hi")) == list({"planning", "completed"}));
  CHECK(std::string(t.execution_path()) == "fast");
  CHECK(t.progress().percentage == 100);
  CHECK(t.progress().total_steps == 0);
  TaskResult r = t.result();
  CHECK(r.success);
  CHECK(r.output == std::string("Mock reply #1 to: say hi"));
  CHECK(r.files.empty());
  CHECK(r.commands.empty());
  CHECK(r.tools_used.empty());
  CHECK(r.execution_time_ms == 231);
  CHECK(r.usage.input_tokens == 1651);
  CHECK(r.usage.output_tokens == 6);
  CHECK(r.usage.turns == 1);
  CHECK(r.usage.cost_usd == doctest::Approx(0.008405));
  CHECK_FALSE(r.error);
}

TEST_CASE("platform task tracker: a Write the CLI says it created is a created file, with its content")
{
  TaskTracker t;
  CHECK(feed(t, transcript("c_tool_write_acceptEdits")) == list({"planning", "executing", "reviewing", "completed"}));
  CHECK(std::string(t.execution_path()) == "agent");
  JsonView j = result_json(t);
  CHECK(j["success"].boolean() == true);
  REQUIRE(j["files"].size() == 1);
  CHECK(j["files"][0]["path"].string_or() == "/home/user/project/hello.txt");
  CHECK(j["files"][0]["action"].string_or() == "created");
  CHECK(j["files"][0]["tool"].string_or() == "Write");
  CHECK(j["files"][0]["content"].string_or() == "hello from mock");
  CHECK(j["metrics"]["toolsUsed"].dump() == R"(["Write"])");
  CHECK(j["metrics"]["executionTime"].int64() == 224);
  CHECK(j["metrics"]["resourceUsage"]["inputTokens"].int64() == 3442);
  CHECK(j["metrics"]["resourceUsage"]["turns"].int64() == 2);
  CHECK_FALSE(j["error"].exists());
}

TEST_CASE("platform task tracker: a refused Write changed no file, but the tool was used")
{
  TaskTracker t;
  feed(t, transcript("c_tool_write_default_denied"));
  CHECK(t.status() == TaskStatus::completed);
  CHECK(t.result().files.empty());
  CHECK(std::string(t.execution_path()) == "agent");
  CHECK(t.result().tools_used == list({"Write"}));
}

TEST_CASE("platform task tracker: Bash calls become commands with their output and error flag")
{
  TaskTracker ok;
  feed(ok, transcript("c_tool_bash_allowedTools"));
  REQUIRE(ok.result().commands.size() == 1);
  CHECK(ok.result().commands[0].command == "echo allowed");
  CHECK(ok.result().commands[0].output == "allowed");
  CHECK_FALSE(ok.result().commands[0].is_error);

  TaskTracker denied;
  feed(denied, transcript("c_tool_bash_default_denied"));
  JsonView c = result_json(denied)["commands"][0];
  CHECK(c["command"].string_or() == "node -e 'console.log(42)'");
  CHECK(c["output"].string_or() == "This command requires approval");
  CHECK(c["isError"].boolean() == true);
  CHECK(denied.status() == TaskStatus::completed);  // the turn itself went well

  // Two calls in one reply, their results in the other order: matched by tool_use_id.
  TaskTracker parallel;
  feed(parallel, transcript("g_parallel_tool_uses"));
  auto cmds = parallel.result().commands;
  REQUIRE(cmds.size() == 2);
  CHECK((cmds[0].command == "echo one" && cmds[0].output == "one"));
  CHECK((cmds[1].command == "echo two" && cmds[1].output == "two"));
  auto totals = parallel.totals();
  REQUIRE(totals.tool_counts.size() == 1);
  CHECK(totals.tool_counts[0] == std::make_pair(std::string("Bash"), std::int64_t{2}));
}

TEST_CASE("platform task tracker: with partial messages a tool's stream start is executing, and it counts once")
{
  auto msgs = transcript("c_stream_tool_roundtrip_partial_replay");
  TaskTracker t;
  std::size_t at_tool_start = 0;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    t.on_message(msgs[i]);
    if (msgs[i].event_type() == "content_block_start" && msgs[i].event()["content_block"]["name"].string_or() == "Write") {
      at_tool_start = i;
      CHECK(t.status() == TaskStatus::executing);
      CHECK(std::string(t.execution_path()) == "agent");
    }
    if (msgs[i].is(MessageType::result)) break;
  }
  CHECK(at_tool_start > 0);
  CHECK(t.status() == TaskStatus::completed);
  CHECK(t.totals().tool_counts == std::vector<std::pair<std::string, std::int64_t>>{{"Write", 1}});
  REQUIRE(t.result().files.size() == 1);
  CHECK(t.result().files[0].path == "/home/user/project/streamed.txt");
  CHECK(t.result().files[0].action == "created");
}

TEST_CASE("platform task tracker: TodoWrite lists drive percentage, currentStep and totalSteps")
{
  TaskTracker t;
  t.start();
  CHECK(t.changed());
  CHECK(t.progress().percentage == 10);
  t.on_message(tool_use("t1", "TodoWrite", R"({"todos":[
      {"content":"Read the component","status":"in_progress","activeForm":"Reading the component"},
      {"content":"Add TypeScript interfaces","status":"pending","activeForm":"Adding TypeScript interfaces"},
      {"content":"Run the tests","status":"pending"}]})"));
  CHECK(t.changed());
  CHECK(t.status() == TaskStatus::executing);
  CHECK(t.progress() == TaskProgress{0, "Reading the component", 3});
  t.on_message(tool_result("t1", "Todos have been modified successfully."));
  t.on_message(text("Now the interfaces."));  // after a todo call only: not yet reviewing
  CHECK(t.status() == TaskStatus::executing);
  CHECK_FALSE(t.changed());
  t.on_message(tool_use("t2", "TodoWrite", R"({"todos":[
      {"content":"Read the component","status":"completed","activeForm":"Reading the component"},
      {"content":"Add TypeScript interfaces","status":"in_progress","activeForm":"Adding TypeScript interfaces"},
      {"content":"Run the tests","status":"pending"}]})"));
  CHECK(t.changed());
  CHECK(t.progress() == TaskProgress{33, "Adding TypeScript interfaces", 3});
  t.on_message(tool_use("t3", "TodoWrite", R"({"todos":[
      {"content":"Read the component","status":"completed"},
      {"content":"Add TypeScript interfaces","status":"completed"},
      {"content":"Run the tests","status":"in_progress"}]})"));
  CHECK(t.progress() == TaskProgress{66, "Run the tests", 3});  // no activeForm: its content
  t.on_message(success());
  CHECK(t.changed());
  CHECK(t.progress() == TaskProgress{100, "", 3});
  CHECK_FALSE(t.changed());
}

TEST_CASE("platform task tracker: TaskCreate and TaskUpdate (the pinned CLI's todo tools) drive the progress")
{
  TaskTracker t;
  t.on_message(tool_use("c1", "TaskCreate", R"({"subject":"Write the parser","description":"d","activeForm":"Writing the parser"})"));
  t.on_message(tool_result("c1", "Task #1 created successfully: Write the parser", false,
                           R"({"task":{"id":"1","subject":"Write the parser"}})"));
  t.on_message(tool_use("c2", "TaskCreate", R"({"subject":"Test it","description":"d"})"));
  t.on_message(tool_result("c2", "Task #2 created successfully: Test it"));  // no structured result: the text's id
  t.on_message(tool_use("c3", "TaskCreate", R"({"subject":"Refused","description":"d"})"));
  t.on_message(tool_result("c3", "Error: no", true));  // made no task
  CHECK(t.progress() == TaskProgress{0, "", 2});
  t.on_message(tool_use("u1", "TaskUpdate", R"({"taskId":"1","status":"in_progress"})"));
  CHECK(t.progress() == TaskProgress{0, "Writing the parser", 2});
  t.on_message(tool_use("u2", "TaskUpdate", R"({"taskId":"1","status":"completed"})"));
  t.on_message(tool_use("u3", "TaskUpdate", R"({"taskId":"2","status":"in_progress"})"));
  CHECK(t.progress() == TaskProgress{50, "Test it", 2});
  t.on_message(tool_use("u4", "TaskUpdate", R"({"taskId":"2","status":"deleted"})"));
  CHECK(t.progress() == TaskProgress{100, "", 1});
  t.on_message(tool_use("u5", "TaskUpdate", R"({"taskId":"7","status":"in_progress","subject":"From an earlier turn"})"));
  CHECK(t.progress() == TaskProgress{50, "From an earlier turn", 2});
  CHECK(t.status() == TaskStatus::executing);
}

TEST_CASE("platform task tracker: Edit, MultiEdit and NotebookEdit modify, one entry per path")
{
  TaskTracker t;
  t.on_message(tool_use("e1", "Edit", R"({"file_path":"/p/a.ts","old_string":"x","new_string":"y"})"));
  t.on_message(tool_result("e1", "The file /p/a.ts has been updated."));
  t.on_message(tool_use("w1", "Write", R"({"file_path":"/p/b.ts","content":"new"})"));
  t.on_message(tool_result("w1", "File created successfully at: /p/b.ts", false,
                           R"({"type":"create","filePath":"/p/b.ts","content":"new"})"));
  t.on_message(tool_use("m1", "MultiEdit", R"({"file_path":"/p/b.ts","edits":[]})"));
  t.on_message(tool_result("m1", "Applied 1 edit to /p/b.ts"));
  t.on_message(tool_use("n1", "NotebookEdit", R"({"notebook_path":"/p/c.ipynb","new_source":"1"})"));
  t.on_message(tool_result("n1", "Updated cell"));
  t.on_message(tool_use("w2", "Write", R"({"file_path":"/p/a.ts","content":"whole"})"));
  t.on_message(tool_result("w2", "The file /p/a.ts has been updated.", false,
                           R"({"type":"update","filePath":"/p/a.ts","content":"whole"})"));
  t.on_message(tool_use("e2", "Edit", R"({"file_path":"/p/d.ts","old_string":"x","new_string":"y"})"));
  t.on_message(tool_result("e2", "String to replace not found", true));
  auto files = t.result().files;
  REQUIRE(files.size() == 3);
  CHECK((files[0].path == "/p/a.ts" && files[0].action == "modified" && files[0].tool == "Write"));
  CHECK(files[0].content == std::string("whole"));
  CHECK((files[1].path == "/p/b.ts" && files[1].action == "created" && files[1].tool == "MultiEdit"));
  CHECK((files[2].path == "/p/c.ipynb" && files[2].action == "modified" && !files[2].content));
  CHECK(t.result().tools_used == list({"Edit", "Write", "MultiEdit", "NotebookEdit"}));
}

TEST_CASE("platform task tracker: an error result fails the task with a seed error code")
{
  TaskTracker bad_request;
  CHECK(feed(bad_request, transcript("f_http400")) == list({"planning", "failed"}));
  JsonView j = result_json(bad_request);
  CHECK(j["success"].boolean() == false);
  CHECK(j["error"]["code"].string_or() == "INTERNAL_ERROR");
  CHECK(j["error"]["message"].string_or() == "API Error: 400 mock invalid_request_error (HTTP 400)");
  CHECK(j["error"]["details"]["apiErrorStatus"].int64() == 400);
  CHECK(bad_request.progress().percentage == 10);  // a failed task keeps its figure

  TaskTracker overloaded;
  feed(overloaded, transcript("f_http529_maxretries1"));
  CHECK(overloaded.status() == TaskStatus::failed);
  CHECK(overloaded.result().error->code == "SERVICE_UNAVAILABLE");

  TaskTracker max_turns;
  feed(max_turns, transcript("g_max_turns_1"));
  CHECK(max_turns.status() == TaskStatus::failed);
  JsonView e = result_json(max_turns)["error"];
  CHECK(e["code"].string_or() == "INTERNAL_ERROR");
  CHECK(e["details"]["subtype"].string_or() == "error_max_turns");
  CHECK(e["details"]["terminalReason"].string_or() == "max_turns");
  CHECK(max_turns.progress().percentage == 50);
  CHECK(max_turns.result().commands.size() == 1);
}

TEST_CASE("platform task tracker: status never goes backwards")
{
  TaskTracker t;
  t.on_message(tool_use("b1", "Bash", R"({"command":"ls"})"));
  t.on_message(tool_result("b1", "a.txt"));
  t.on_message(text("Listed."));
  CHECK(t.status() == TaskStatus::reviewing);
  t.on_message(tool_use("w1", "Write", R"({"file_path":"/p/late.txt","content":"x"})"));  // a late tool_use
  t.on_message(tool_result("w1", "File created successfully at: /p/late.txt"));
  CHECK(t.status() == TaskStatus::reviewing);
  CHECK(t.progress().percentage == 90);
  t.start();
  CHECK(t.status() == TaskStatus::reviewing);
  REQUIRE(t.result().files.size() == 1);  // still recorded
  CHECK(t.result().files[0].action == "created");
}

TEST_CASE("platform task tracker: cancel and fail are final, and nothing undoes a final status")
{
  TaskTracker done;
  feed(done, transcript("a_oneshot_say_hi"));
  done.cancel();
  done.fail("TIMEOUT_ERROR", "too slow");
  CHECK(done.status() == TaskStatus::completed);
  CHECK(done.result().success);
  CHECK_FALSE(done.result().error);

  // Cancelled mid-turn; the interrupted turn's result still brings its metrics.
  TaskTracker cancelled;
  cancelled.start();
  cancelled.cancel();
  CHECK(cancelled.changed());
  feed(cancelled, transcript("b_signal_sigint_midturn"));
  CHECK(cancelled.status() == TaskStatus::cancelled);
  CHECK_FALSE(cancelled.result().success);
  CHECK_FALSE(cancelled.result().error);
  CHECK(cancelled.result().execution_time_ms == 879);
  CHECK(cancelled.progress().percentage == 10);

  TaskTracker timed_out;
  timed_out.on_message(tool_use("b1", "Bash", R"({"command":"sleep 100"})"));
  timed_out.fail("TIMEOUT_ERROR", "The task did not finish within 30000 ms");
  timed_out.set_elapsed_ms(30000);
  timed_out.on_message(success());
  CHECK(timed_out.status() == TaskStatus::failed);
  CHECK(timed_out.result().error->code == "TIMEOUT_ERROR");
  CHECK(timed_out.result().execution_time_ms == 1200);  // the result's own duration wins
  JsonView c = result_json(timed_out)["commands"][0];
  CHECK(c["command"].string_or() == "sleep 100");
  CHECK_FALSE(c["output"].exists());  // it never answered
}

TEST_CASE("platform task tracker: a streaming process's cumulative cost becomes each turn's own")
{
  auto msgs = transcript("b_stream_input_two_turns_eof");
  std::size_t at = 0;
  TaskTracker first;
  feed(first, msgs, &at);
  REQUIRE(first.cli_cost_usd());
  CHECK(first.result().usage.cost_usd == doctest::Approx(0.008445));
  TaskTracker second(*first.cli_cost_usd());
  feed(second, msgs, &at);
  CHECK(second.result().output == std::string("Mock reply #2 to: second turn: still there?"));
  CHECK(second.totals().usage.cost_usd == doctest::Approx(0.01713 - 0.008445));
  TaskTracker restarted(0.5);  // a new process: its figure is smaller than the baseline
  restarted.on_message(msgs[at - 1]);
  CHECK(restarted.result().usage.cost_usd == doctest::Approx(0.01713));
}

TEST_CASE("platform task tracker: malformed and unknown input is ignored, never thrown")
{
  const char *lines[] = {
      R"({"type":"assistant"})",
      R"({"type":"assistant","message":{"content":"just a string"}})",
      R"({"type":"assistant","message":{"content":[{"type":"tool_use"},{"type":"tool_use","name":7},{"type":"weird"}]}})",
      R"({"type":"assistant","message":{"content":[{"type":"tool_use","id":"x","name":"Bash","input":"ls"}]}})",
      R"({"type":"assistant","message":{"content":[{"type":"tool_use","id":"y","name":"TodoWrite","input":{"todos":{"a":1}}}]}})",
      R"({"type":"assistant","message":{"content":[{"type":"tool_use","id":"z","name":"TodoWrite","input":{"todos":[1,{"content":2},{"content":"ok","status":"bogus"}]}}]}})",
      R"({"type":"assistant","message":{"content":[{"type":"tool_use","id":"u","name":"TaskUpdate","input":{"taskId":{}}}]}})",
      R"({"type":"assistant","message":{"content":[{"type":"tool_use","id":"w","name":"Write","input":{"file_path":5}}]}})",
      R"({"type":"user","message":{"content":[{"type":"tool_result"},{"type":"tool_result","tool_use_id":"x","content":[1,{"text":2}]}]}})",
      R"({"type":"user","message":"nope","tool_use_result":"Error: x"})",
      R"({"type":"stream_event"})",
      R"({"type":"stream_event","event":{"type":"content_block_start","content_block":"x"}})",
      R"({"type":"control_response","response":{}})",
      R"({"type":"result","subtype":"success","is_error":"no","usage":"many","num_turns":-3,"total_cost_usd":2e308,"duration_ms":"1"})",
      R"({"type":"result","subtype":"success"})",
      "not json at all",
      R"([1,2,3])",
  };
  TaskTracker t;
  for (const char *line : lines) {
    CHECK_NOTHROW(t.on_message(Message::parse(line)));
    CHECK_NOTHROW(t.changed());
  }
  CHECK(t.status() == TaskStatus::completed);
  CHECK(t.progress() == TaskProgress{100, "", 1});  // the one well-formed todo, status taken as pending
  TaskResult r = t.result();
  CHECK(r.usage.turns == 0);
  CHECK(r.usage.cost_usd == 0);
  CHECK_NOTHROW(parse_json(r.to_json()));
}

TEST_CASE("platform task tracker: texts are capped at a UTF-8 boundary and lists at max_entries")
{
  TaskLimits limits;
  limits.max_preview_bytes = 6;
  limits.max_output_bytes = 3;
  limits.max_entries = 2;
  TaskTracker t(0, limits);
  t.on_message(tool_use("b1", "Bash", R"({"command":"echo"})"));
  t.on_message(tool_result("b1", "h\xC3\xA9llo w\xC3\xB6rld"));  // "héllo wörld"
  t.on_message(tool_use("b2", "Bash", R"({"command":"abc\u00e9\u00e9\u00e9"})"));  // 9 bytes: byte 6 is inside an é
  t.on_message(tool_use("b3", "Bash", R"({"command":"three"})"));
  t.on_message(Message::parse(R"({"type":"result","subtype":"success","is_error":false,"result":"\u00e9\u00e9\u00e9"})"));
  TaskResult r = t.result();
  REQUIRE(r.commands.size() == 2);
  CHECK(r.commands[0].output == "h\xC3\xA9llo");
  CHECK(r.commands[0].output_truncated);
  CHECK(r.commands[1].command == "abc\xC3\xA9");
  CHECK(r.commands_omitted == 1);
  CHECK(r.output == std::string("\xC3\xA9"));
  CHECK(r.output_truncated);
  JsonView j = parse_json(r.to_json());
  CHECK(j["commandsOmitted"].int64() == 1);
  CHECK(j["outputTruncated"].boolean() == true);
  CHECK(j["commands"][0]["outputTruncated"].boolean() == true);
  CHECK_FALSE(j["filesOmitted"].exists());
}

TEST_CASE("platform task tracker: progress and result are the seed's JSON")
{
  TaskTracker t;
  t.on_message(tool_use("t1", "TodoWrite", R"({"todos":[{"content":"A","status":"in_progress","activeForm":"Doing A"},)"
                                           R"({"content":"B","status":"pending"}]})"));
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  t.progress().write(w);
  CHECK(std::string(buf.GetString()) == R"({"percentage":0,"currentStep":"Doing A","totalSteps":2})");
  TaskTracker fast;
  fast.start();
  rapidjson::StringBuffer buf2;
  JsonWriter w2(buf2);
  fast.progress().write(w2);
  CHECK(std::string(buf2.GetString()) == R"({"percentage":10})");

  fast.on_message(success("hi"));
  CHECK(fast.result().to_json() ==
        R"({"success":true,"output":"hi","files":[],"commands":[],"metrics":{"executionTime":1200,"toolsUsed":[],)"
        R"("resourceUsage":{"inputTokens":10,"outputTokens":20,"cacheReadTokens":0,"cacheCreationTokens":0,)"
        R"("costUsd":0.5,"turns":3}}})");
}
