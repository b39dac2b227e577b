// Tool-argument validation (core/json_schema): every keyword's text and best_match's choice, as
// jsonschema 4.26 produces them for the same schema and instance (the expected texts were taken
// from jsonschema.validate, the check the Python SDK runs), and Python's repr() of JSON values.
#include "core/json_schema.hpp"

#include <ccbridge/ccbridge.hpp>

#include <doctest/doctest.h>

#include <optional>
#include <string>

using namespace ccbridge;
using detail::python_repr;
using detail::validate_json_schema;

namespace {

struct Case {
  const char *schema;
  const char *instance;
  std::optional<std::string> message;  ///< jsonschema's ValidationError.message; nullopt: valid
};

const Case cases[] = {
    {R"j({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "array", "items": {"type": "integer"}}, "c": {"type": "string", "description": "d"}, "f": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}, "required": ["a", "b"]})j", R"j({})j", R"j('a' is a required property)j"},
    {R"j({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "array", "items": {"type": "integer"}}, "c": {"type": "string", "description": "d"}, "f": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}, "required": ["a", "b"]})j", R"j({"a": 1})j", R"j('b' is a required property)j"},
    {R"j({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "array", "items": {"type": "integer"}}, "c": {"type": "string", "description": "d"}, "f": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}, "required": ["a", "b"]})j", R"j({"a": "x", "b": []})j", R"j('x' is not of type 'integer')j"},
    {R"j({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "array", "items": {"type": "integer"}}, "c": {"type": "string", "description": "d"}, "f": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}, "required": ["a", "b"]})j", R"j({"a": 1, "b": [1, "2"]})j", R"j('2' is not of type 'integer')j"},
    {R"j({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "array", "items": {"type": "integer"}}, "c": {"type": "string", "description": "d"}, "f": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}, "required": ["a", "b"]})j", R"j({"a": 1, "b": [1], "c": null})j", R"j(None is not of type 'string')j"},
    {R"j({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "array", "items": {"type": "integer"}}, "c": {"type": "string", "description": "d"}, "f": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}, "required": ["a", "b"]})j", R"j({"a": 1, "b": [1], "f": 1.5})j", R"j(1.5 is not valid under any of the given schemas)j"},
    {R"j({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "array", "items": {"type": "integer"}}, "c": {"type": "string", "description": "d"}, "f": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}, "required": ["a", "b"]})j", R"j({"a": 1, "b": [1], "f": 3})j", std::nullopt},
    {R"j({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "array", "items": {"type": "integer"}}, "c": {"type": "string", "description": "d"}, "f": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}, "required": ["a", "b"]})j", R"j({"a": true, "b": [1.0]})j", R"j(True is not of type 'integer')j"},
    {R"j({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "array", "items": {"type": "integer"}}, "c": {"type": "string", "description": "d"}, "f": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}, "required": ["a", "b"]})j", R"j({"a": 1.0, "b": [2.5]})j", R"j(2.5 is not of type 'integer')j"},
    {R"j({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "array", "items": {"type": "integer"}}, "c": {"type": "string", "description": "d"}, "f": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}, "required": ["a", "b"]})j", R"j({"a": 1, "b": [1], "c": "s", "f": null, "zz": 1})j", R"j(None is not valid under any of the given schemas)j"},
    {R"j({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "array", "items": {"type": "integer"}}, "c": {"type": "string", "description": "d"}, "f": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}, "required": ["a", "b"]})j", R"j([])j", R"j([] is not of type 'object')j"},
    {R"j({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "array", "items": {"type": "integer"}}, "c": {"type": "string", "description": "d"}, "f": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}, "required": ["a", "b"]})j", R"j("text")j", R"j('text' is not of type 'object')j"},
    {R"j({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "array", "items": {"type": "integer"}}, "c": {"type": "string", "description": "d"}, "f": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}, "required": ["a", "b"]})j", R"j({"a": 1, "b": {"k": [1, null, true, 1.5, "it's"]}})j", R"j({'k': [1, None, True, 1.5, "it's"]} is not of type 'array')j"},
    {R"j({"type": "object", "properties": {"x": {"type": "integer", "minimum": 3, "maximum": 10}}, "additionalProperties": false})j", R"j({"x": 1})j", R"j(1 is less than the minimum of 3)j"},
    {R"j({"type": "object", "properties": {"x": {"type": "integer", "minimum": 3, "maximum": 10}}, "additionalProperties": false})j", R"j({"x": 11})j", R"j(11 is greater than the maximum of 10)j"},
    {R"j({"type": "object", "properties": {"x": {"type": "integer"}}, "additionalProperties": false})j", R"j({"x": 1, "z": 2, "y": 3})j", R"j(Additional properties are not allowed ('y', 'z' were unexpected))j"},
    {R"j({"type": "object", "properties": {"x": {"type": "integer"}}, "additionalProperties": false})j", R"j({"x": 1, "z": 2})j", R"j(Additional properties are not allowed ('z' was unexpected))j"},
    {R"j({"type": "object", "additionalProperties": {"type": "string"}})j", R"j({"x": "a", "y": 2})j", R"j(2 is not of type 'string')j"},
    {R"j({"type": "object", "patternProperties": {"^s_": {"type": "string"}}, "additionalProperties": false})j", R"j({"s_a": 1, "q": 2})j", R"j('q' does not match any of the regexes: '^s_')j"},
    {R"j({"type": "object", "patternProperties": {"^s_": {"type": "string"}}, "additionalProperties": false})j", R"j({"s_a": "ok", "q": 2, "r": 3})j", R"j('q', 'r' do not match any of the regexes: '^s_')j"},
    {R"j({"enum": ["a", "b", 1, null]})j", R"j("c")j", R"j('c' is not one of ['a', 'b', 1, None])j"},
    {R"j({"enum": [1, 2]})j", R"j(true)j", R"j(True is not one of [1, 2])j"},
    {R"j({"enum": [1, 2]})j", R"j(1.0)j", std::nullopt},
    {R"j({"const": "x"})j", R"j("y")j", R"j('x' was expected)j"},
    {R"j({"const": {"a": [1]}})j", R"j({"a": [true]})j", R"j({'a': [1]} was expected)j"},
    {R"j({"type": ["string", "null"]})j", R"j(1)j", R"j(1 is not of type 'string', 'null')j"},
    {R"j({"type": "number"})j", R"j("1")j", R"j('1' is not of type 'number')j"},
    {R"j({"type": "number"})j", R"j(false)j", R"j(False is not of type 'number')j"},
    {R"j({"type": "integer"})j", R"j(1e+20)j", std::nullopt},
    {R"j({"type": "integer"})j", R"j(1.5e-07)j", R"j(1.5e-07 is not of type 'integer')j"},
    {R"j({"type": "number"})j", R"j(123456789.123)j", std::nullopt},
    {R"j({"type": "integer"})j", R"j(1e+16)j", std::nullopt},
    {R"j({"type": "integer"})j", R"j(-0.0)j", std::nullopt},
    {R"j({"type": "integer"})j", R"j(0.0001)j", R"j(0.0001 is not of type 'integer')j"},
    {R"j({"type": "integer"})j", R"j(12345678901234567)j", std::nullopt},
    {R"j({"exclusiveMinimum": 0})j", R"j(0)j", R"j(0 is less than or equal to the minimum of 0)j"},
    {R"j({"exclusiveMaximum": 5})j", R"j(5.0)j", R"j(5.0 is greater than or equal to the maximum of 5)j"},
    {R"j({"multipleOf": 3})j", R"j(7)j", R"j(7 is not a multiple of 3)j"},
    {R"j({"multipleOf": 0.5})j", R"j(1.25)j", R"j(1.25 is not a multiple of 0.5)j"},
    {R"j({"multipleOf": 2})j", R"j(3.5)j", R"j(3.5 is not a multiple of 2)j"},
    {R"j({"multipleOf": 0.1})j", R"j(0.3)j", R"j(0.3 is not a multiple of 0.1)j"},
    {R"j({"minLength": 1})j", R"j("")j", R"j('' should be non-empty)j"},
    {R"j({"minLength": 3})j", R"j("ab")j", R"j('ab' is too short)j"},
    {R"j({"maxLength": 0})j", R"j("a")j", R"j('a' is expected to be empty)j"},
    {R"j({"maxLength": 2})j", R"j("h\u00e9llo")j", R"j('héllo' is too long)j"},
    {R"j({"maxLength": 5})j", R"j("h\u00e9llo")j", std::nullopt},
    {R"j({"pattern": "^[a-z]+$"})j", R"j("abc1")j", R"j('abc1' does not match '^[a-z]+$')j"},
    {R"j({"pattern": "\\d"})j", R"j("abc")j", R"j('abc' does not match '\\d')j"},
    {R"j({"minItems": 1})j", R"j([])j", R"j([] should be non-empty)j"},
    {R"j({"minItems": 2})j", R"j([1])j", R"j([1] is too short)j"},
    {R"j({"maxItems": 0})j", R"j([1])j", R"j([1] is expected to be empty)j"},
    {R"j({"maxItems": 1})j", R"j([1, 2])j", R"j([1, 2] is too long)j"},
    {R"j({"uniqueItems": true})j", R"j([1, 2, 1])j", R"j([1, 2, 1] has non-unique elements)j"},
    {R"j({"uniqueItems": true})j", R"j([1, true])j", std::nullopt},
    {R"j({"uniqueItems": true})j", R"j([{"a": 1}, {"a": 1.0}])j", R"j([{'a': 1}, {'a': 1.0}] has non-unique elements)j"},
    {R"j({"prefixItems": [{"type": "integer"}], "items": false})j", R"j([1, 2, 3])j", R"j(Expected at most 1 item but found 2 extra: [2, 3])j"},
    {R"j({"prefixItems": [{"type": "integer"}], "items": false})j", R"j([1, 2])j", R"j(Expected at most 1 item but found 1 extra: 2)j"},
    {R"j({"prefixItems": [{"type": "integer"}, {"type": "string"}]})j", R"j(["x", 1])j", R"j(1 is not of type 'string')j"},
    {R"j({"contains": {"type": "string"}})j", R"j([1, 2])j", R"j([1, 2] does not contain items matching the given schema)j"},
    {R"j({"contains": {"type": "string"}, "minContains": 2})j", R"j(["a", 1])j", R"j(Too few items match the given schema (expected at least 2 but only 1 matched))j"},
    {R"j({"contains": {"type": "string"}, "maxContains": 1})j", R"j(["a", "b"])j", R"j(Too many items match the given schema (expected at most 1))j"},
    {R"j({"minProperties": 1})j", R"j({})j", R"j({} should be non-empty)j"},
    {R"j({"maxProperties": 1})j", R"j({"a": 1, "b": 2})j", R"j({'a': 1, 'b': 2} has too many properties)j"},
    {R"j({"maxProperties": 0})j", R"j({"a": 1})j", R"j({'a': 1} is expected to be empty)j"},
    {R"j({"minProperties": 2})j", R"j({"a": 1})j", R"j({'a': 1} does not have enough properties)j"},
    {R"j({"dependentRequired": {"a": ["b", "c"]}})j", R"j({"a": 1, "c": 2})j", R"j('b' is a dependency of 'a')j"},
    {R"j({"propertyNames": {"maxLength": 2}})j", R"j({"abc": 1})j", R"j('abc' is too long)j"},
    {R"j({"allOf": [{"type": "string"}, {"minLength": 2}]})j", R"j("a")j", R"j('a' is too short)j"},
    {R"j({"oneOf": [{"type": "integer"}, {"type": "number"}]})j", R"j(1)j", R"j(1 is valid under each of {'type': 'number'}, {'type': 'integer'})j"},
    {R"j({"oneOf": [{"type": "integer"}, {"type": "string"}]})j", R"j(null)j", R"j(None is not valid under any of the given schemas)j"},
    {R"j({"anyOf": [{"type": "object", "required": ["a"]}, {"type": "string"}]})j", R"j({"b": 1})j", R"j('a' is a required property)j"},
    {R"j({"anyOf": [{"properties": {"a": {"type": "integer"}}, "required": ["a"]}, {"type": "null"}]})j", R"j({"a": "x"})j", R"j('x' is not of type 'integer')j"},
    {R"j({"not": {"type": "string"}})j", R"j("s")j", R"j('s' should not be valid under {'type': 'string'})j"},
    {R"j({"if": {"properties": {"k": {"const": 1}}}, "then": {"required": ["v"]}, "else": {"required": ["w"]}})j", R"j({"k": 1})j", R"j('v' is a required property)j"},
    {R"j({"if": {"properties": {"k": {"const": 1}}}, "then": {"required": ["v"]}, "else": {"required": ["w"]}})j", R"j({"k": 2})j", R"j('w' is a required property)j"},
    {R"j({"$defs": {"P": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}}, "type": "object", "properties": {"p": {"$ref": "#/$defs/P"}}})j", R"j({"p": {"n": "1"}})j", R"j('1' is not of type 'integer')j"},
    {R"j({"$defs": {"P": {"type": "integer"}}, "type": "array", "items": {"$ref": "#/$defs/P"}})j", R"j([1, "a", "b"])j", R"j('b' is not of type 'integer')j"},
    {R"j({"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"P": {"type": "integer"}}, "properties": {"p": {"$ref": "#/definitions/P", "type": "string"}}})j", R"j({"p": 1})j", std::nullopt},
    {R"j({"$schema": "http://json-schema.org/draft-07/schema#", "items": [{"type": "integer"}], "additionalItems": false})j", R"j([1, 2, 3])j", R"j(Additional items are not allowed (2, 3 were unexpected))j"},
    {R"j({"$schema": "http://json-schema.org/draft-07/schema#", "dependencies": {"a": ["b"]}})j", R"j({"a": 1})j", R"j('b' is a dependency of 'a')j"},
    {R"j({"$schema": "http://json-schema.org/draft-04/schema#", "type": "integer"})j", R"j(1.0)j", R"j(1.0 is not of type 'integer')j"},
    {R"j({"$schema": "http://json-schema.org/draft-04/schema#", "minimum": 5, "exclusiveMinimum": true})j", R"j(5)j", R"j(5 is less than or equal to the minimum of 5)j"},
    {R"j({"type": "string"})j", R"j("a'b")j", std::nullopt},
    {R"j({"type": "string"})j", R"j("a'b\"c")j", std::nullopt},
    {R"j({"type": "integer"})j", R"j("tab\there\n\u0001\u00a0\u2028\u00e9\ud83d\ude00\\")j", R"j('tab\there\n\x01\xa0\u2028é😀\\' is not of type 'integer')j"},
    {R"j({"type": "object", "properties": {"a": {"type": "integer"}}})j", R"j({"a": {"x": [1, {"y": null}]}})j", R"j({'x': [1, {'y': None}]} is not of type 'integer')j"},
    {R"j({"type": "object", "properties": {"b": {"type": "string"}, "a": {"type": "string"}}})j", R"j({"a": 1, "b": 2})j", R"j(2 is not of type 'string')j"},
    {R"j({"type": "object", "properties": {"k": false}})j", R"j({"k": 1})j", R"j(False schema does not allow 1)j"},
    {R"j(true)j", R"j(1)j", std::nullopt},
    {R"j(false)j", R"j({"a": 1})j", R"j(False schema does not allow {'a': 1})j"},
    {R"j({"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {"type": "integer"}}}, "c": {"type": "integer"}}})j", R"j({"a": {"b": "x"}, "c": "y"})j", R"j('y' is not of type 'integer')j"},
    {R"j({"type": "array", "items": {"type": "array", "items": {"type": "integer"}}})j", R"j([[1, "a"], ["b"]])j", R"j('b' is not of type 'integer')j"},
    {R"j({"type": "integer", "minimum": 0})j", R"j(1e+300)j", std::nullopt},
    {R"j({"type": "number", "maximum": 1e-05})j", R"j(0.5)j", R"j(0.5 is greater than the maximum of 1e-05)j"},
    {R"j({"type": "string"})j", R"j(1e-05)j", R"j(1e-05 is not of type 'string')j"},
    {R"j({"type": "string"})j", R"j(1e+16)j", R"j(1e+16 is not of type 'string')j"},
    {R"j({"type": "string"})j", R"j(123.0)j", R"j(123.0 is not of type 'string')j"},
    {R"j({"type": "string"})j", R"j(-2.5e-10)j", R"j(-2.5e-10 is not of type 'string')j"},
};

std::string repr_of(const char *json) { return python_repr(parse_json(json)); }

}  // namespace

TEST_CASE("json schema: the error jsonschema reports, with its text")
{
  for (const auto &c : cases) {
    CAPTURE(c.schema);
    CAPTURE(c.instance);
    auto failure = validate_json_schema(parse_json(c.schema), parse_json(c.instance));
    if (!c.message) {
      CHECK_FALSE(failure.has_value());
      continue;
    }
    REQUIRE(failure.has_value());
    CHECK(failure->invalid_input);
    CHECK(failure->message == *c.message);
  }
}

TEST_CASE("json schema: a schema that cannot be used stops validation with its own text")
{
  auto missing = validate_json_schema(parse_json(R"({"properties":{"a":{"$ref":"#/$defs/Nope"}}})"), parse_json(R"({"a":1})"));
  REQUIRE(missing.has_value());
  CHECK_FALSE(missing->invalid_input);
  CHECK(missing->message ==
        "PointerToNowhere: '/$defs/Nope' does not exist within {'properties': {'a': {'$ref': '#/$defs/Nope'}}}");
  auto cycle = validate_json_schema(parse_json(R"({"$ref":"#"})"), parse_json("1"));
  REQUIRE(cycle.has_value());
  CHECK_FALSE(cycle->invalid_input);
  CHECK(cycle->message == "maximum recursion depth exceeded while calling a Python object");
  auto bad_regex = validate_json_schema(parse_json(R"({"pattern":"("})"), parse_json(R"("x")"));
  REQUIRE(bad_regex.has_value());
  CHECK(bad_regex->message == "'(' is not a 'regex'");
  // A reference not reached by this instance is not resolved.
  CHECK_FALSE(validate_json_schema(parse_json(R"({"properties":{"a":{"$ref":"#/x"}}})"), parse_json("{}")));
}

TEST_CASE("json schema: values quoted as Python's repr() of what json.loads makes")
{
  CHECK(repr_of("null") == "None");
  CHECK(repr_of("[true,false]") == "[True, False]");
  CHECK(repr_of("1") == "1");
  CHECK(repr_of("-7") == "-7");
  CHECK(repr_of("18446744073709551615") == "18446744073709551615");
  CHECK(repr_of("1.0") == "1.0");
  CHECK(repr_of("0.1") == "0.1");
  CHECK(repr_of("-0.0") == "-0.0");
  CHECK(repr_of("1e16") == "1e+16");
  CHECK(repr_of("1.5e15") == "1500000000000000.0");
  CHECK(repr_of("0.0001") == "0.0001");
  CHECK(repr_of("0.00001") == "1e-05");
  CHECK(repr_of("1.7976931348623157e308") == "1.7976931348623157e+308");
  CHECK(repr_of("123456789.123") == "123456789.123");
  CHECK(repr_of(R"("it's")") == R"("it's")");
  CHECK(repr_of(R"("a'b\"c")") == R"('a\'b"c')");
  CHECK(repr_of(R"("\u0000\u007f\u0085\u00e9\u200b\ud83d\ude00")") == "'\\x00\\x7f\\x85\xc3\xa9\\u200b\xf0\x9f\x98\x80'");
  CHECK(repr_of(R"({"k":{"n":[1,"x",null]},"e":{}})") == "{'k': {'n': [1, 'x', None]}, 'e': {}}");
}
