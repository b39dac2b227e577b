// Internal, not part of the stable API: a SAX walk over one JSON text, for code outside the
// library that must not see RapidJSON (the Python module builds its objects from it). Part of
// the protocol layer (lib/protocol/json_events.cpp); installed only because the Python module
// builds against the installed headers.
#pragma once

#include <ccbridge/export.h>

#include <string_view>

namespace ccbridge::detail {

/// Receives the values of one JSON text in document order. Each returns false to stop the walk.
class JsonEvents {
public:
  virtual bool null() = 0;
  virtual bool boolean(bool b) = 0;
  /// An integral number, as written (any size: "-12", "184467440737095516160").
  virtual bool integer(std::string_view digits) = 0;
  /// Any other number, as the correctly rounded double (+-inf beyond the range).
  virtual bool real(double d) = 0;
  virtual bool string(std::string_view s) = 0;
  virtual bool key(std::string_view k) = 0;
  virtual bool start_object() = 0;
  virtual bool end_object() = 0;
  virtual bool start_array() = 0;
  virtual bool end_array() = 0;

protected:
  ~JsonEvents() = default;
};

/// Walks the first JSON value in `text` (what follows it is ignored). False if it is not valid
/// JSON or a handler returned false.
CCB_API bool walk_json(std::string_view text, JsonEvents &events);
/// The same, faster, for text followed by a NUL (text.data()[text.size()] == '\0', as in a
/// std::string or Message::raw()) that has no NUL before it.
CCB_API bool walk_json_terminated(std::string_view text, JsonEvents &events);

}  // namespace ccbridge::detail
