// Validation of an in-process tool's arguments against its input schema, as the official Python
// SDK does it (`jsonschema.validate`, jsonschema 4.x): the same checks, the same choice of the one
// error reported (jsonschema's best_match) and the same texts, which quote values as Python's repr().
#pragma once

#include <ccbridge/json.hpp>

#include <optional>
#include <string>

namespace ccbridge::detail {

/// Python's repr() of `value` as json.loads would build it: None, True, 'text', 1.5, [1, 'a'],
/// {'k': None}. Non-printable characters are escaped as Python does for the common ones (controls,
/// C1, separators, format characters, private use); unassigned code points are kept as they are.
std::string python_repr(const JsonView &value);

struct SchemaFailure {
  std::string message;
  /// True for a jsonschema ValidationError (the SDK's text is "Input validation error: " +
  /// message); false for a schema that cannot be used (an unresolvable $ref, a $ref cycle), whose
  /// message the SDK reports as it is.
  bool invalid_input = true;
};

/// Validates `instance` against `schema` (drafts 4 to 2020-12, chosen by "$schema" as jsonschema
/// does, 2020-12 by default). Supported keywords: type, enum, const, properties, required,
/// additionalProperties, patternProperties, propertyNames, min/maxProperties, dependentRequired,
/// dependentSchemas, dependencies, items, prefixItems, additionalItems, contains, min/maxContains,
/// min/maxItems, uniqueItems, minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf,
/// min/maxLength, pattern (ECMAScript regular expressions), allOf, anyOf, oneOf, not, if/then/else
/// and $ref to a JSON pointer in the same document; others (format, unevaluated*, $dynamicRef)
/// are not checked. Returns the error jsonschema's best_match would report, or nullopt.
std::optional<SchemaFailure> validate_json_schema(const JsonView &schema, const JsonView &instance);

}  // namespace ccbridge::detail
