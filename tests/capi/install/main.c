/* Links the installed libccbridge-c and calls into it: the ABI version, options, and a query
 * whose CLI is missing (so that no CLI is needed). */
#include <ccbridge.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
  ccb_options_t *opts = NULL;
  ccb_stream_t *stream = NULL;
  if (ccb_abi_version() != CCB_ABI_VERSION) return 1;
  if (ccb_options_new(&opts) != CCB_OK) return 2;
  if (ccb_options_set_json(opts, "{\"cli_path\": \"/nonexistent/claude\"}") != CCB_OK) return 3;
  int rc = ccb_query(&stream, "hi", opts);
  ccb_options_free(opts);
  if (rc != CCB_E_CLI_NOT_FOUND || stream != NULL || !strstr(ccb_last_error(), "[ccbridge.cli_not_found]")) return 4;
  printf("ccbridge %s: C ABI %d works from an installed tree\n", ccb_version(), ccb_abi_version());
  return 0;
}
