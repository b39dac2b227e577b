/* ccbridge.h compiles as strict C99 (-std=c99 -Wpedantic -Werror), and header and library agree
 * on the ABI version. */
#include <ccbridge.h>

#include <stdio.h>
#include <string.h>

int ccbt_header_cxx_abi(void); /* header_cxx.cpp: the same header compiled as C++ */

int main(void)
{
  ccb_message_type_t type = CCB_MESSAGE_RESULT;
  ccb_outcome_t outcome;
  memset(&outcome, 0, sizeof outcome);
  if (ccb_abi_version() != CCB_ABI_VERSION || ccbt_header_cxx_abi() != CCB_ABI_VERSION) {
    fprintf(stderr, "ABI mismatch: header %d, library %d\n", CCB_ABI_VERSION, ccb_abi_version());
    return 1;
  }
  if (type != 4 || outcome.status != CCB_OK || CCB_E_TIMEOUT != -10) return 1;
  printf("ccbridge %s, C ABI %d\n", ccb_version(), ccb_abi_version());
  return 0;
}
