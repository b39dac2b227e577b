/* One prompt through the Claude Code CLI, from C: print the reply and how the run ended.
 *   example_c_query "What is 2 + 2?" ['{"model": "claude-sonnet-4-5", "max_turns": 3}']
 * The optional second argument is a JSON object of options (see ccb_options_set_json). */
#include <ccbridge.h>

#include <stdio.h>

int main(int argc, char **argv)
{
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s PROMPT [OPTIONS_JSON]\n", argv[0]);
    return 2;
  }
  ccb_options_t *opts = NULL;
  ccb_stream_t *stream = NULL;
  int rc = ccb_options_new(&opts);
  if (rc == CCB_OK) rc = ccb_options_set_json(opts, argc > 2 ? argv[2] : "{\"max_turns\": 3}");
  if (rc == CCB_OK) rc = ccb_query(&stream, argv[1], opts);
  ccb_options_free(opts); /* the stream copied what it needs */
  if (rc != CCB_OK) {     /* e.g. CCB_E_CLI_NOT_FOUND, with what to do in the message */
    fprintf(stderr, "%s\n", ccb_last_error());
    return 1;
  }

  ccb_message_t *msg = NULL;
  while ((rc = ccb_stream_next(&msg, stream, -1)) == CCB_OK) {
    if (ccb_message_type(msg) == CCB_MESSAGE_ASSISTANT) {
      char *text = NULL;
      if (ccb_message_text(&text, msg) == CCB_OK) printf("%s", text);
      ccb_free(text);
    } else if (ccb_message_type(msg) == CCB_MESSAGE_RESULT) {
      printf("\n[%s%s]\n", ccb_message_subtype(msg), ccb_message_is_error(msg) ? ", error" : "");
    }
    ccb_message_free(msg);
  }

  const ccb_outcome_t *outcome = NULL;
  rc = ccb_stream_wait(stream, &outcome); /* CCB_OK, or why the run failed */
  if (rc != CCB_OK) fprintf(stderr, "%s\n", ccb_last_error());
  else printf("[exit code %d, %llu messages]\n", outcome->exit_code, (unsigned long long)outcome->messages);
  ccb_stream_free(stream);
  return rc == CCB_OK ? 0 : 1;
}
