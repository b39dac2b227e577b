/* Session history through the C ABI: a transcript written into a temporary CLAUDE_CONFIG_DIR,
 * listed, read, renamed, tagged, forked and deleted; bad ids and missing sessions as statuses; and
 * a transcript given as text, read and forked. */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SID "11111111-2222-4333-8444-555555555555"
#define U1 "aaaaaaaa-0000-4000-8000-000000000001"
#define A1 "aaaaaaaa-0000-4000-8000-000000000002"

static char g_root[64];
static char g_project[128]; /* a working directory that does not exist: its key is itself */

static void write_file(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

/* CLAUDE_CONFIG_DIR=<tmp>/cfg with one session of project "/ccb-capi-history/proj". */
static int setup(void)
{
  strcpy(g_root, "/tmp/ccb-capi-history-XXXXXX");
  if (!mkdtemp(g_root)) return 0;
  char *cfg = ccbt_format("%s/cfg", g_root), *projects = ccbt_format("%s/cfg/projects", g_root);
  char *dir = ccbt_format("%s/cfg/projects/-ccb-capi-history-proj", g_root);
  char *file = ccbt_format("%s/" SID ".jsonl", dir);
  int ok = mkdir(cfg, 0700) == 0 && mkdir(projects, 0700) == 0 && mkdir(dir, 0700) == 0;
  write_file(file,
             "{\"type\":\"user\",\"uuid\":\"" U1 "\",\"parentUuid\":null,\"sessionId\":\"" SID "\","
             "\"timestamp\":\"2026-01-15T10:30:00.000Z\",\"message\":{\"role\":\"user\",\"content\":\"hello\"}}\n"
             "{\"type\":\"assistant\",\"uuid\":\"" A1 "\",\"parentUuid\":\"" U1 "\",\"sessionId\":\"" SID "\","
             "\"message\":{\"role\":\"assistant\",\"content\":\"hi\"}}\n");
  setenv("CLAUDE_CONFIG_DIR", cfg, 1);
  strcpy(g_project, "/ccb-capi-history/proj");
  free(cfg);
  free(projects);
  free(dir);
  free(file);
  return ok;
}

static void teardown(void)
{
  char *cmd = ccbt_format("rm -rf '%s'", g_root);
  if (system(cmd) != 0) CHECK(!"rm -rf failed");
  free(cmd);
  unsetenv("CLAUDE_CONFIG_DIR");
}

CCB_TEST(history_read_and_edit)
{
  REQUIRE(setup());
  char *out = NULL;
  REQUIRE_RC(ccb_history_list_sessions(&out, g_project, 0, 0, 1), CCB_OK);
  CHECK_CONTAINS(out, "\"sessionId\":\"" SID "\",\"summary\":\"hello\"");
  CHECK_CONTAINS(out, "\"createdAt\":1768473000000");
  ccb_free(out);
  REQUIRE_RC(ccb_history_list_sessions(&out, NULL, 1, 1, 0), CCB_OK);
  CHECK_STREQ(out, "[]");
  ccb_free(out);

  REQUIRE_RC(ccb_history_messages(&out, SID, g_project, 0, 0), CCB_OK);
  CHECK_STREQ(out, "[{\"type\":\"user\",\"uuid\":\"" U1 "\",\"session_id\":\"" SID "\",\"message\":{\"role\":\"user\",\"content\":\"hello\"}},"
                   "{\"type\":\"assistant\",\"uuid\":\"" A1 "\",\"session_id\":\"" SID "\",\"message\":{\"role\":\"assistant\",\"content\":\"hi\"}}]");
  ccb_free(out);
  REQUIRE_RC(ccb_history_messages(&out, "not-a-uuid", NULL, 0, 0), CCB_OK);
  CHECK_STREQ(out, "[]");
  ccb_free(out);
  REQUIRE_RC(ccb_history_list_subagents(&out, SID, NULL), CCB_OK);
  CHECK_STREQ(out, "[]");
  ccb_free(out);

  CHECK_RC(ccb_history_rename(SID, "  Renamed  ", g_project), CCB_OK);
  CHECK_RC(ccb_history_tag(SID, "exp", NULL), CCB_OK);
  REQUIRE_RC(ccb_history_session_info(&out, SID, g_project), CCB_OK);
  CHECK_CONTAINS(out, "\"summary\":\"Renamed\"");
  CHECK_CONTAINS(out, "\"customTitle\":\"Renamed\"");
  CHECK_CONTAINS(out, "\"tag\":\"exp\"");
  ccb_free(out);
  CHECK_RC(ccb_history_tag(SID, NULL, NULL), CCB_OK);
  REQUIRE_RC(ccb_history_session_info(&out, SID, NULL), CCB_OK);
  CHECK(strstr(out, "\"tag\"") == NULL);
  ccb_free(out);

  char *fork = NULL;
  REQUIRE_RC(ccb_history_fork(&fork, SID, g_project, U1, NULL), CCB_OK);
  REQUIRE(fork != NULL && strlen(fork) == 36);
  REQUIRE_RC(ccb_history_messages(&out, fork, g_project, 0, 0), CCB_OK);
  CHECK_CONTAINS(out, "\"content\":\"hello\"");
  CHECK(strstr(out, "\"content\":\"hi\"") == NULL);
  ccb_free(out);
  REQUIRE_RC(ccb_history_session_info(&out, fork, NULL), CCB_OK);
  CHECK_CONTAINS(out, "\"customTitle\":\"Renamed (fork)\"");
  ccb_free(out);
  CHECK_RC(ccb_history_delete(fork, NULL), CCB_OK);
  CHECK_RC(ccb_history_session_info(&out, fork, NULL), CCB_E_SESSION_NOT_FOUND);
  CHECK(out == NULL);
  ccb_free(fork);
  teardown();
}

CCB_TEST(history_errors)
{
  REQUIRE(setup());
  char *out = (char *)g_root; /* any non-NULL value: must be reset to NULL */
  CHECK_RC(ccb_history_session_info(&out, "nope", NULL), CCB_E_INVALID_ARGUMENT);
  CHECK(out == NULL);
  CHECK_CONTAINS(ccb_last_error(), "[ccbridge.invalid_argument] Invalid session_id: nope");
  CHECK_RC(ccb_history_rename("nope", "t", NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_history_rename(SID, " ", NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_CONTAINS(ccb_last_error(), "title must be non-empty");
  CHECK_RC(ccb_history_rename(SID, NULL, NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_CONTAINS(ccb_last_error(), "title is NULL");
  CHECK_RC(ccb_history_tag("99999999-2222-4333-8444-555555555555", "t", NULL), CCB_E_SESSION_NOT_FOUND);
  CHECK_RC(ccb_history_delete("99999999-2222-4333-8444-555555555555", g_project), CCB_E_SESSION_NOT_FOUND);
  CHECK_CONTAINS(ccb_last_error(), "not found in project directory for /ccb-capi-history/proj");
  CHECK_RC(ccb_history_fork(&out, SID, NULL, "99999999-2222-4333-8444-555555555555", NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_CONTAINS(ccb_last_error(), "not found in session");
  CHECK_RC(ccb_history_list_sessions(NULL, NULL, 0, 0, 0), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_history_messages(&out, NULL, NULL, 0, 0), CCB_E_INVALID_ARGUMENT);
  teardown();
}

/* A transcript held elsewhere, given as text: read, and forked into text. */
CCB_TEST(history_from_text)
{
  static const char text[] =
      "{\"type\":\"user\",\"uuid\":\"" U1 "\",\"parentUuid\":null,\"sessionId\":\"" SID "\","
      "\"timestamp\":\"2026-01-15T10:30:00.000Z\",\"message\":{\"role\":\"user\",\"content\":\"hello\"}}\n"
      "{\"type\":\"assistant\",\"uuid\":\"" A1 "\",\"parentUuid\":\"" U1 "\",\"sessionId\":\"" SID "\","
      "\"message\":{\"role\":\"assistant\",\"content\":\"hi\"}}\n";
  size_t len = sizeof text - 1;
  char *out = NULL;
  REQUIRE_RC(ccb_history_info_from_text(&out, SID, text, len, 42, "/proj"), CCB_OK);
  CHECK_CONTAINS(out, "\"summary\":\"hello\"");
  CHECK_CONTAINS(out, "\"lastModified\":42");
  CHECK_CONTAINS(out, "\"cwd\":\"/proj\"");
  CHECK_CONTAINS(out, "\"createdAt\":1768473000000");
  ccb_free(out);
  CHECK_RC(ccb_history_info_from_text(&out, SID, NULL, 0, 0, NULL), CCB_E_SESSION_NOT_FOUND);
  CHECK(out == NULL);
  CHECK_RC(ccb_history_info_from_text(&out, SID, NULL, 5, 0, NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_CONTAINS(ccb_last_error(), "text is NULL");

  REQUIRE_RC(ccb_history_messages_from_text(&out, text, len, 1, 1), CCB_OK);
  CHECK_STREQ(out, "[{\"type\":\"assistant\",\"uuid\":\"" A1 "\",\"session_id\":\"" SID "\",\"message\":{\"role\":\"assistant\",\"content\":\"hi\"}}]");
  ccb_free(out);
  REQUIRE_RC(ccb_history_subagent_messages_from_text(&out, text, len, "toolu_1", NULL, 0, 0), CCB_OK);
  CHECK_CONTAINS(out, "\"parent_tool_use_id\":\"toolu_1\"");
  CHECK(strstr(out, "parent_agent_id") == NULL);
  ccb_free(out);

  char *id = NULL, *fork = NULL;
  REQUIRE_RC(ccb_history_fork_text(&id, &fork, SID, text, len, U1, "Mine"), CCB_OK);
  REQUIRE(id != NULL && strlen(id) == 36 && fork != NULL);
  CHECK(strstr(fork, "\"content\":\"hello\"") != NULL);
  CHECK(strstr(fork, "\"content\":\"hi\"") == NULL);
  CHECK(strstr(fork, "\"customTitle\":\"Mine\"") != NULL);
  CHECK(strstr(fork, id) != NULL);
  ccb_free(id);
  ccb_free(fork);
  id = fork = (char *)text; /* any non-NULL value: must be reset to NULL */
  CHECK_RC(ccb_history_fork_text(&id, &fork, SID, "", 0, NULL, NULL), CCB_E_INVALID_ARGUMENT);
  CHECK(id == NULL && fork == NULL);
  CHECK_CONTAINS(ccb_last_error(), "has no messages to fork");
  CHECK_RC(ccb_history_fork_text(&id, NULL, SID, text, len, NULL, NULL), CCB_E_INVALID_ARGUMENT);
}
