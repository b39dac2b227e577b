/* Symbol visibility for ccbridge. C-compatible; every macro can be overridden by the integrator. */
#ifndef CCBRIDGE_EXPORT_H
#define CCBRIDGE_EXPORT_H

#ifndef CCB_API
#  if defined(_WIN32) && defined(CCB_SHARED)
#    ifdef CCB_BUILDING
#      define CCB_API __declspec(dllexport)
#    else
#      define CCB_API __declspec(dllimport)
#    endif
#  elif defined(__GNUC__)
#    define CCB_API __attribute__((visibility("default")))
#  else
#    define CCB_API
#  endif
#endif

#ifndef CCB_BEGIN_NAMESPACE
#  define CCB_BEGIN_NAMESPACE namespace ccbridge { inline namespace v0 {
#  define CCB_END_NAMESPACE } }
#endif

#endif
