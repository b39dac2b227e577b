/* A conversation from C: two turns in one CLI process, a permission callback that decides what
 * may run, and a C function offered to the model as an in-process MCP tool (mcp__calc__add).
 *   example_c_session ['{"cwd": "/path/to/project", "model": "claude-sonnet-4-5"}'] */
#include <ccbridge.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs on a ccbridge callback thread whenever the CLI asks; may block (e.g. to ask a human).
 * It could also keep the request (ccb_permission_keep) and answer later from another thread. */
static void decide(ccb_permission_t *request, void *user)
{
  const char *tool = ccb_permission_tool_name(request);
  const char *input = ccb_permission_input(request);
  (void)user;
  fprintf(stderr, "[permission] %s %s\n", tool, input);
  if (strcmp(tool, "Bash") == 0 && strstr(input, "rm ")) {
    ccb_permission_deny(request, "Deleting files is not allowed here.", 0);
  } else {
    ccb_permission_allow(request, NULL, NULL);
  }
}

/* The tool: {"a": number, "b": number} -> their sum. A real one would use a JSON parser. */
static double number_after(const char *json, const char *key)
{
  const char *p = strstr(json, key);
  return p ? strtod(p + strlen(key), NULL) : 0;
}

static int add(const char *arguments_json, ccb_output_t *result, void *user)
{
  char text[64];
  (void)user;
  snprintf(text, sizeof text, "%g", number_after(arguments_json, "\"a\":") + number_after(arguments_json, "\"b\":"));
  return ccb_output_set_text(result, text, 0);
}

/* Sends one message and prints the reply up to the turn's result. */
static int turn(ccb_session_t *session, const char *prompt)
{
  ccb_message_t *msg = NULL;
  int rc = ccb_session_send(session, prompt);
  printf("> %s\n", prompt);
  while (rc == CCB_OK && (rc = ccb_session_receive(&msg, session, 600000)) == CCB_OK) {
    ccb_message_type_t type = ccb_message_type(msg);
    if (type == CCB_MESSAGE_ASSISTANT) {
      char *text = NULL;
      if (ccb_message_text(&text, msg) == CCB_OK && *text) printf("%s\n", text);
      ccb_free(text);
    }
    ccb_message_free(msg);
    if (type == CCB_MESSAGE_RESULT) return CCB_OK;
  }
  return rc == CCB_END ? CCB_E_CLOSED : rc;
}

int main(int argc, char **argv)
{
  ccb_options_t *opts = NULL;
  ccb_session_t *session = NULL;
  int rc = ccb_options_new(&opts);
  if (rc == CCB_OK) rc = ccb_options_set_json(opts, "{\"allowed_tools\": [\"mcp__calc__add\"]}");
  if (rc == CCB_OK && argc > 1) rc = ccb_options_set_json(opts, argv[1]);
  if (rc == CCB_OK) rc = ccb_options_set_permission_callback(opts, decide, NULL, NULL);
  if (rc == CCB_OK) {
    rc = ccb_options_add_tool(opts, "calc", "add", "Adds two numbers",
                              "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\"},"
                              "\"b\":{\"type\":\"number\"}},\"required\":[\"a\",\"b\"]}",
                              add, NULL, NULL);
  }
  if (rc == CCB_OK) rc = ccb_session_open(&session, opts);
  ccb_options_free(opts);
  if (rc == CCB_OK) rc = turn(session, "What is 2 + 40? Use the add tool.");
  if (rc == CCB_OK) rc = turn(session, "Now list the files in this directory.");
  if (rc != CCB_OK) fprintf(stderr, "%s\n", ccb_last_error());

  if (session) {
    const ccb_outcome_t *outcome = NULL;
    int closed = ccb_session_close(session, &outcome); /* stdin first: the CLI saves the session */
    if (rc == CCB_OK && closed != CCB_OK) fprintf(stderr, "%s\n", ccb_last_error());
    if (rc == CCB_OK) rc = closed;
    ccb_session_free(session);
  }
  return rc == CCB_OK ? 0 : 1;
}
