// ccbridge.h compiles as C++ (-Werror with the project's warnings) and needs no C++ library.
#include <ccbridge.h>

extern "C" int ccbt_header_cxx_abi(void);

extern "C" int ccbt_header_cxx_abi(void)
{
  const ccb_outcome_t *none = nullptr;
  return none ? CCB_E_INTERNAL : CCB_ABI_VERSION;
}
