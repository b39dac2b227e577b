// JSON Schema validation with jsonschema's (4.x) semantics and texts: each keyword's check and
// message, errors collected in the schema's member order, and best_match's choice among them.
#include "core/json_schema.hpp"

#include <ccbridge/error.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <regex>
#include <set>
#include <string_view>
#include <vector>

namespace ccbridge::detail {

namespace {

// ---- Python's repr() ----------------------------------------------------------------------------

// Python's str.isprintable() is false for these code points (categories Cc, Cf, Zl, Zp, Zs but the
// space, Cs, Co); unassigned ones (Cn) are not listed.
bool python_printable(std::uint32_t c)
{
  if (c < 0x20 || (c >= 0x7f && c <= 0xa0) || c == 0xad) return false;
  if (c < 0x600) return true;
  static const std::uint32_t ranges[][2] = {
      {0x600, 0x605},     {0x61c, 0x61c},     {0x6dd, 0x6dd},   {0x70f, 0x70f},   {0x890, 0x891},
      {0x8e2, 0x8e2},     {0x1680, 0x1680},   {0x180e, 0x180e}, {0x2000, 0x200f}, {0x2028, 0x202f},
      {0x205f, 0x2064},   {0x2066, 0x206f},   {0x3000, 0x3000}, {0xd800, 0xf8ff}, {0xfeff, 0xfeff},
      {0xfff9, 0xfffb},   {0x110bd, 0x110bd}, {0x110cd, 0x110cd}, {0x13430, 0x1343f}, {0x1bca0, 0x1bca3},
      {0x1d173, 0x1d17a}, {0xe0001, 0xe0001}, {0xe0020, 0xe007f}, {0xf0000, 0x10ffff}};
  for (const auto &r : ranges)
    if (c >= r[0] && c <= r[1]) return false;
  return true;
}

// The next code point of UTF-8 text (a byte that starts no valid sequence counts as itself).
std::uint32_t next_code_point(std::string_view s, std::size_t &i)
{
  auto b = static_cast<unsigned char>(s[i++]);
  int more = b >= 0xf0 ? 3 : b >= 0xe0 ? 2 : b >= 0xc0 ? 1 : 0;
  std::uint32_t c = more == 3 ? (b & 0x07u) : more == 2 ? (b & 0x0fu) : more == 1 ? (b & 0x1fu) : b;
  for (; more > 0 && i < s.size() && (static_cast<unsigned char>(s[i]) & 0xc0) == 0x80; --more)
    c = (c << 6) | (static_cast<unsigned char>(s[i++]) & 0x3fu);
  return c;
}

std::size_t code_points(std::string_view s)
{
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size();) {
    next_code_point(s, i);
    ++n;
  }
  return n;
}

void append_hex(std::string &out, std::uint32_t c, int digits)
{
  static const char hex[] = "0123456789abcdef";
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) out += hex[(c >> shift) & 0xf];
}

void repr_string(std::string &out, std::string_view s)
{
  char quote = s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos ? '"' : '\'';
  out += quote;
  for (std::size_t i = 0; i < s.size();) {
    std::size_t start = i;
    std::uint32_t c = next_code_point(s, i);
    if (c == static_cast<unsigned char>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (python_printable(c)) {
      out.append(s.substr(start, i - start));
    } else if (c <= 0xff) {
      out += "\\x";
      append_hex(out, c, 2);
    } else if (c <= 0xffff) {
      out += "\\u";
      append_hex(out, c, 4);
    } else {
      out += "\\U";
      append_hex(out, c, 8);
    }
  }
  out += quote;
}

// json.loads makes an int of a number written without fraction or exponent, a float otherwise.
bool is_python_int(const JsonView &v)
{
  if (!v.is_number()) return false;
  if (v.int64()) return true;
  return v.dump().find_first_of(".eE") == std::string::npos;
}

// repr(float): the shortest text that reads back the same, fixed for exponents -4..15.
void repr_float(std::string &out, double d)
{
  if (std::isnan(d)) {
    out += "nan";
    return;
  }
  if (std::isinf(d)) {
    out += d > 0 ? "inf" : "-inf";
    return;
  }
  char buf[64];
  auto end = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific).ptr;
  std::string_view s(buf, static_cast<std::size_t>(end - buf));
  if (s.front() == '-') {
    out += '-';
    s.remove_prefix(1);
  }
  std::size_t e = s.find('e');
  std::string digits;
  for (char c : s.substr(0, e))
    if (c != '.') digits += c;
  // to_chars wrote the exponent: a sign, then digits.
  std::string_view exp_text = s.substr(e + 1);
  if (!exp_text.empty() && exp_text.front() == '+') exp_text.remove_prefix(1);
  int exp = 0;
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exp);
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      out += "0." + std::string(static_cast<std::size_t>(-exp - 1), '0') + digits;
    } else {
      auto whole = static_cast<std::size_t>(exp) + 1;
      if (digits.size() < whole) digits.append(whole - digits.size(), '0');
      out += digits.substr(0, whole) + '.' + (digits.size() > whole ? digits.substr(whole) : "0");
    }
    return;
  }
  out += digits[0];
  if (digits.size() > 1) out += '.' + digits.substr(1);
  out += exp < 0 ? "e-" : "e+";
  int a = std::abs(exp);
  if (a < 10) out += '0';
  out += std::to_string(a);
}

void repr(std::string &out, const JsonView &v)
{
  switch (v.kind()) {
  case JsonKind::missing:
  case JsonKind::null: out += "None"; break;
  case JsonKind::boolean: out += *v.boolean() ? "True" : "False"; break;
  case JsonKind::number:
    if (is_python_int(v))
      out += v.dump();
    else
      repr_float(out, *v.number());
    break;
  case JsonKind::string: repr_string(out, *v.string()); break;
  case JsonKind::array:
    out += '[';
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (i) out += ", ";
      repr(out, v[i]);
    }
    out += ']';
    break;
  case JsonKind::object:
    out += '{';
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (i) out += ", ";
      repr_string(out, v.key_at(i));
      out += ": ";
      repr(out, v.value_at(i));
    }
    out += '}';
    break;
  }
}

std::string repr(const JsonView &v)
{
  std::string out;
  repr(out, v);
  return out;
}

std::string repr(std::string_view s)
{
  std::string out;
  repr_string(out, s);
  return out;
}

// ---- values as jsonschema sees them -----------------------------------------------------------

// jsonschema's `equal`: True and 1 differ, 1 and 1.0 do not; arrays and objects member by member.
bool equal(const JsonView &a, const JsonView &b)
{
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
  case JsonKind::missing:
  case JsonKind::null: return true;
  case JsonKind::boolean: return *a.boolean() == *b.boolean();
  case JsonKind::number:
    if (a.int64() && b.int64()) return *a.int64() == *b.int64();
    return *a.number() == *b.number();
  case JsonKind::string: return *a.string() == *b.string();
  case JsonKind::array:
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (!equal(a[i], b[i])) return false;
    return true;
  case JsonKind::object:
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      JsonView other = b[a.key_at(i)];
      if (!other.exists() || !equal(a.value_at(i), other)) return false;
    }
    return true;
  }
  return false;
}

bool truthy(const JsonView &v)
{
  switch (v.kind()) {
  case JsonKind::boolean: return *v.boolean();
  case JsonKind::number: return *v.number() != 0;
  case JsonKind::string: return !v.string()->empty();
  case JsonKind::array:
  case JsonKind::object: return v.size() > 0;
  default: return false;
  }
}

bool has_key(const JsonView &object, const JsonView &key)
{
  return key.is_string() && object[*key.string()].exists();
}

// Python's `a < b` for two JSON numbers (exact for integers that fit in int64).
bool less(const JsonView &a, const JsonView &b)
{
  if (a.int64() && b.int64()) return *a.int64() < *b.int64();
  return *a.number() < *b.number();
}

JsonView string_value(std::string_view s)
{
  std::string text;
  append_json_string(text, s);
  return parse_json(text);
}

// ---- errors and best_match ----------------------------------------------------------------------

struct PathItem {
  bool is_index = false;
  std::size_t index = 0;
  std::string key;

  bool operator<(const PathItem &o) const
  {
    if (is_index != o.is_index) return is_index;  // never compared in one instance
    return is_index ? index < o.index : key < o.key;
  }
  bool operator==(const PathItem &o) const
  {
    return is_index == o.is_index && (is_index ? index == o.index : key == o.key);
  }
};

struct Error {
  std::string message;
  std::vector<PathItem> path;  ///< relative to the instance validated where the error arose
  std::string keyword;         ///< jsonschema's `validator`
  JsonView schema;             ///< the schema holding `keyword`
  JsonView instance;
  int draft = 2020;
  std::vector<Error> context;  ///< anyOf / oneOf: every subschema's errors
};

/// Not a ValidationError: the whole validation stops (jsonschema raises, the SDK reports str(e)).
struct Fatal {
  std::string message;
};

bool is_type(const JsonView &v, std::string_view type, int draft)
{
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "boolean") return v.is_bool();
  if (type == "null") return v.is_null();
  if (type == "number") return v.is_number();
  if (type == "integer") {
    if (is_python_int(v)) return true;
    double d = v.number().value_or(0.5);
    return draft >= 6 && v.is_number() && std::isfinite(d) && std::floor(d) == d;
  }
  if (type == "any") return draft <= 3;
  return false;
}

bool matches_type(const Error &e)
{
  JsonView t = e.schema["type"];
  if (t.is_string()) return is_type(e.instance, *t.string(), e.draft);
  if (!t.is_array()) return false;
  for (std::size_t i = 0; i < t.size(); ++i)
    if (t[i].is_string() && is_type(e.instance, *t[i].string(), e.draft)) return true;
  return false;
}

// relevance(a) < relevance(b), relevance being jsonschema's by_relevance() key:
// (-len(path), path, keyword not in {anyOf, oneOf}, False, not matches_type).
bool less_relevant(const Error &a, const Error &b)
{
  if (a.path.size() != b.path.size()) return a.path.size() > b.path.size();
  if (a.path != b.path) return std::lexicographical_compare(a.path.begin(), a.path.end(), b.path.begin(), b.path.end());
  bool a_strong = a.keyword != "anyOf" && a.keyword != "oneOf";
  bool b_strong = b.keyword != "anyOf" && b.keyword != "oneOf";
  if (a_strong != b_strong) return !a_strong;
  return !matches_type(a) < !matches_type(b);
}

bool same_relevance(const Error &a, const Error &b) { return !less_relevant(a, b) && !less_relevant(b, a); }

const Error *best_match(const std::vector<Error> &errors)
{
  if (errors.empty()) return nullptr;
  const Error *best = &errors.front();
  for (const auto &e : errors)
    if (less_relevant(*best, e)) best = &e;  // max(): the first of the most relevant
  while (!best->context.empty()) {
    const auto &ctx = best->context;
    const Error *least = &ctx.front();
    for (const auto &e : ctx)
      if (less_relevant(e, *least)) least = &e;
    for (const auto &e : ctx)
      if (&e != least && same_relevance(e, *least)) return best;  // no single most specific error
    best = least;
  }
  return best;
}

// ---- the validator ------------------------------------------------------------------------------

constexpr int max_depth = 256;  // schema levels entered without a deeper instance ($ref cycles)

class Validator {
public:
  Validator(JsonView root, int draft) : root_(std::move(root)), draft_(draft) {}

  /// jsonschema's iter_errors(instance, schema), all of them, or up to the first with first_only.
  void errors(const JsonView &instance, const JsonView &schema, std::vector<Error> &out, bool first_only, int depth);

  bool is_valid(const JsonView &instance, const JsonView &schema, int depth)
  {
    std::vector<Error> out;
    errors(instance, schema, out, true, depth);
    return out.empty();
  }

private:
  JsonView root_;
  int draft_;

  void descend(const JsonView &instance, const JsonView &schema, std::vector<Error> &out, bool first_only, int depth,
               const PathItem *path = nullptr)
  {
    std::size_t before = out.size();
    errors(instance, schema, out, first_only, depth + 1);
    if (path)
      for (std::size_t i = before; i < out.size(); ++i) out[i].path.insert(out[i].path.begin(), *path);
  }

  static PathItem key(std::string_view k) { return PathItem{false, 0, std::string(k)}; }
  static PathItem index(std::size_t i) { return PathItem{true, i, {}}; }

  bool search(std::string_view pattern, std::string_view text) const
  {
    try {
      std::regex re(pattern.begin(), pattern.end(), std::regex::ECMAScript);
      return std::regex_search(text.begin(), text.end(), re);
    } catch (const std::regex_error &) {
      throw Fatal{repr(pattern) + " is not a 'regex'"};
    }
  }

  JsonView resolve(std::string_view ref) const;
  void keyword(std::string_view k, const JsonView &v, const JsonView &instance, const JsonView &schema,
               std::vector<Error> &out, bool first_only, int depth);
};

JsonView Validator::resolve(std::string_view ref) const
{
  if (ref.empty() || ref.front() != '#') throw Fatal{"Unresolvable: " + std::string(ref)};
  JsonView at = root_;
  std::string_view pointer = ref.substr(1);
  if (pointer.empty()) return at;
  if (pointer.front() != '/') throw Fatal{"Unresolvable: " + std::string(ref)};
  std::size_t pos = 1;
  while (true) {
    std::size_t slash = pointer.find('/', pos);
    std::string_view raw = pointer.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    std::string token;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        token += raw[++i] == '0' ? '~' : '/';
      } else if (raw[i] == '%' && i + 2 < raw.size() && std::isxdigit(static_cast<unsigned char>(raw[i + 1])) &&
                 std::isxdigit(static_cast<unsigned char>(raw[i + 2]))) {
        token += static_cast<char>(std::stoi(std::string(raw.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        token += raw[i];
      }
    }
    if (at.is_array()) {
      std::size_t n = 0;
      auto r = std::from_chars(token.data(), token.data() + token.size(), n);
      at = r.ec == std::errc() && r.ptr == token.data() + token.size() ? at[n] : JsonView();
    } else {
      at = at[token];
    }
    if (!at.exists()) throw Fatal{"PointerToNowhere: " + repr(pointer) + " does not exist within " + repr(root_)};
    if (slash == std::string_view::npos) return at;
    pos = slash + 1;
  }
}

void Validator::errors(const JsonView &instance, const JsonView &schema, std::vector<Error> &out, bool first_only,
                       int depth)
{
  if (depth > max_depth) throw Fatal{"maximum recursion depth exceeded while calling a Python object"};
  if (schema.is_bool()) {
    if (!*schema.boolean()) out.push_back(Error{"False schema does not allow " + repr(instance), {}, "", schema, instance, draft_, {}});
    return;
  }
  if (!schema.is_object()) return;
  JsonView ref = schema["$ref"];
  if (draft_ <= 7 && ref.exists()) {  // before 2019-09, $ref hides its siblings
    keyword("$ref", ref, instance, schema, out, first_only, depth);
    return;
  }
  for (std::size_t i = 0; i < schema.size(); ++i) {
    keyword(schema.key_at(i), schema.value_at(i), instance, schema, out, first_only, depth);
    if (first_only && !out.empty()) return;
  }
}

void Validator::keyword(std::string_view k, const JsonView &v, const JsonView &instance, const JsonView &schema,
                        std::vector<Error> &out, bool first_only, int depth)
{
  auto fail = [&](std::string message, std::string_view as = {}) {
    out.push_back(Error{std::move(message), {}, std::string(as.empty() ? k : as), schema, instance, draft_, {}});
  };
  const bool object = instance.is_object(), array = instance.is_array(), number = instance.is_number();

  if (k == "type") {
    bool ok = false;
    std::string names;
    auto one = [&](const JsonView &t) {
      if (!names.empty()) names += ", ";
      names += repr(t);
      if (t.is_string() && is_type(instance, *t.string(), draft_)) ok = true;
    };
    if (v.is_array()) {
      for (std::size_t i = 0; i < v.size(); ++i) one(v[i]);
    } else {
      one(v);
    }
    if (!ok) fail(repr(instance) + " is not of type " + names);
  } else if (k == "enum") {
    bool found = false;
    for (std::size_t i = 0; i < v.size() && !found; ++i) found = equal(v[i], instance);
    if (!found) fail(repr(instance) + " is not one of " + repr(v));
  } else if (k == "const" && draft_ >= 6) {
    if (!equal(instance, v)) fail(repr(v) + " was expected");
  } else if (k == "properties") {
    if (!object || !v.is_object()) return;
    for (std::size_t i = 0; i < v.size(); ++i) {
      JsonView member = instance[v.key_at(i)];
      PathItem p = key(v.key_at(i));
      if (member.exists()) descend(member, v.value_at(i), out, first_only, depth, &p);
    }
  } else if (k == "required") {
    if (!object || !v.is_array()) return;
    for (std::size_t i = 0; i < v.size(); ++i)
      if (!has_key(instance, v[i])) fail(repr(v[i]) + " is a required property");
  } else if (k == "additionalProperties") {
    if (!object) return;
    std::string patterns;
    JsonView pp = schema["patternProperties"];
    for (std::size_t i = 0; i < pp.size(); ++i) patterns += (i ? "|" : "") + std::string(pp.key_at(i));
    std::set<std::string> extras;
    std::vector<std::string_view> in_order;
    for (std::size_t i = 0; i < instance.size(); ++i) {
      std::string_view name = instance.key_at(i);
      if (schema["properties"][name].exists() || (!patterns.empty() && search(patterns, name))) continue;
      if (extras.insert(std::string(name)).second) in_order.push_back(name);
    }
    if (v.is_object()) {
      for (auto name : in_order) {
        PathItem p = key(name);
        descend(instance[name], v, out, first_only, depth, &p);
      }
    } else if (!truthy(v) && !extras.empty()) {
      std::string names;
      for (const auto &e : extras) names += (names.empty() ? "" : ", ") + repr(e);
      if (schema["patternProperties"].exists()) {
        std::string pats;
        std::set<std::string> sorted;
        for (std::size_t i = 0; i < pp.size(); ++i) sorted.insert(std::string(pp.key_at(i)));
        for (const auto &p : sorted) pats += (pats.empty() ? "" : ", ") + repr(p);
        fail(names + (extras.size() == 1 ? " does" : " do") + " not match any of the regexes: " + pats);
      } else {
        fail("Additional properties are not allowed (" + names + (extras.size() == 1 ? " was" : " were") +
             " unexpected)");
      }
    }
  } else if (k == "patternProperties") {
    if (!object) return;
    for (std::size_t i = 0; i < v.size(); ++i)
      for (std::size_t j = 0; j < instance.size(); ++j)
        if (search(v.key_at(i), instance.key_at(j))) {
          PathItem p = key(instance.key_at(j));
          descend(instance.value_at(j), v.value_at(i), out, first_only, depth, &p);
        }
  } else if (k == "propertyNames" && draft_ >= 6) {
    if (!object) return;
    for (std::size_t i = 0; i < instance.size(); ++i) descend(string_value(instance.key_at(i)), v, out, first_only, depth);
  } else if (k == "minProperties" || k == "maxProperties") {
    if (!object || !v.is_number()) return;
    double n = *v.number(), size = static_cast<double>(instance.size());
    if (k == "minProperties" && size < n)
      fail(repr(instance) + (n == 1 ? " should be non-empty" : " does not have enough properties"));
    if (k == "maxProperties" && size > n)
      fail(repr(instance) + (n == 0 ? " is expected to be empty" : " has too many properties"));
  } else if ((k == "dependentRequired" && draft_ >= 2019) || (k == "dependencies" && draft_ <= 7)) {
    if (!object) return;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!instance[v.key_at(i)].exists()) continue;
      JsonView dep = v.value_at(i);
      if (dep.is_array()) {
        for (std::size_t j = 0; j < dep.size(); ++j)
          if (!has_key(instance, dep[j])) fail(repr(dep[j]) + " is a dependency of " + repr(v.key_at(i)));
      } else if (k == "dependencies") {
        descend(instance, dep, out, first_only, depth);
      }
    }
  } else if (k == "dependentSchemas" && draft_ >= 2019) {
    if (!object) return;
    for (std::size_t i = 0; i < v.size(); ++i)
      if (instance[v.key_at(i)].exists()) descend(instance, v.value_at(i), out, first_only, depth);
  } else if (k == "items") {
    if (!array) return;
    std::size_t first = 0;
    if (draft_ >= 2020) {
      first = schema["prefixItems"].size();
    } else if (v.is_array()) {
      for (std::size_t i = 0; i < v.size() && i < instance.size(); ++i) {
        PathItem p = index(i);
        descend(instance[i], v[i], out, first_only, depth, &p);
      }
      return;
    }
    if (instance.size() <= first) return;
    if (v.is_bool() && !*v.boolean() && draft_ >= 2020) {
      std::size_t extra = instance.size() - first;
      std::string rest;
      if (extra == 1) {
        rest = repr(instance[first]);
      } else {
        rest = "[";
        for (std::size_t i = first; i < instance.size(); ++i) rest += (i > first ? ", " : "") + repr(instance[i]);
        rest += "]";
      }
      fail("Expected at most " + std::to_string(first) + (first == 1 ? " item" : " items") + " but found " +
           std::to_string(extra) + " extra: " + rest);
      return;
    }
    for (std::size_t i = first; i < instance.size(); ++i) {
      PathItem p = index(i);
      descend(instance[i], v, out, first_only, depth, &p);
    }
  } else if (k == "prefixItems" && draft_ >= 2020) {
    if (!array) return;
    for (std::size_t i = 0; i < v.size() && i < instance.size(); ++i) {
      PathItem p = index(i);
      descend(instance[i], v[i], out, first_only, depth, &p);
    }
  } else if (k == "additionalItems" && draft_ <= 2019) {
    JsonView items = schema["items"];
    if (!array || !items.exists() || items.is_object()) return;
    std::size_t n = items.size();
    if (v.is_object()) {
      for (std::size_t i = n; i < instance.size(); ++i) {
        PathItem p = index(i);
        descend(instance[i], v, out, first_only, depth, &p);
      }
    } else if (!truthy(v) && instance.size() > n) {
      std::string names;
      for (std::size_t i = n; i < instance.size(); ++i) names += (i > n ? ", " : "") + repr(instance[i]);
      fail("Additional items are not allowed (" + names + (instance.size() - n == 1 ? " was" : " were") +
           " unexpected)");
    }
  } else if (k == "contains" && draft_ >= 6) {
    if (!array) return;
    bool counted = draft_ >= 2019;
    double min = counted && schema["minContains"].is_number() ? *schema["minContains"].number() : 1;
    double max = counted && schema["maxContains"].is_number() ? *schema["maxContains"].number()
                                                              : static_cast<double>(instance.size());
    double matches = 0;
    for (std::size_t i = 0; i < instance.size(); ++i) {
      if (!is_valid(instance[i], v, depth + 1)) continue;
      if (++matches > max) {
        fail("Too many items match the given schema (expected at most " + repr(schema["maxContains"]) + ")",
             "maxContains");
        return;
      }
    }
    if (matches < min) {
      if (matches == 0)
        fail(repr(instance) + " does not contain items matching the given schema");
      else
        fail("Too few items match the given schema (expected at least " + repr(schema["minContains"]) +
                 " but only " + std::to_string(static_cast<long long>(matches)) + " matched)",
             "minContains");
    }
  } else if (k == "minItems" || k == "maxItems") {
    if (!array || !v.is_number()) return;
    double n = *v.number(), size = static_cast<double>(instance.size());
    if (k == "minItems" && size < n) fail(repr(instance) + (n == 1 ? " should be non-empty" : " is too short"));
    if (k == "maxItems" && size > n) fail(repr(instance) + (n == 0 ? " is expected to be empty" : " is too long"));
  } else if (k == "uniqueItems") {
    if (!array || !truthy(v)) return;
    for (std::size_t i = 0; i < instance.size(); ++i)
      for (std::size_t j = i + 1; j < instance.size(); ++j)
        if (equal(instance[i], instance[j])) {
          fail(repr(instance) + " has non-unique elements");
          return;
        }
  } else if (k == "minimum" || k == "maximum") {
    if (!number || !v.is_number()) return;
    bool low = k == "minimum";
    // Draft 4: exclusiveMinimum / exclusiveMaximum are booleans that make the bound exclusive.
    bool exclusive = draft_ <= 4 && truthy(schema[low ? "exclusiveMinimum" : "exclusiveMaximum"]);
    bool failed = low ? (less(instance, v) || (exclusive && !less(v, instance)))
                      : (less(v, instance) || (exclusive && !less(instance, v)));
    if (failed)
      fail(repr(instance) + (low ? " is less than " : " is greater than ") + (exclusive ? "or equal to " : "") +
           "the " + (low ? "minimum" : "maximum") + " of " + repr(v));
  } else if ((k == "exclusiveMinimum" || k == "exclusiveMaximum") && draft_ >= 6) {
    if (!number || !v.is_number()) return;
    if (k == "exclusiveMinimum" && !less(v, instance))
      fail(repr(instance) + " is less than or equal to the minimum of " + repr(v));
    if (k == "exclusiveMaximum" && !less(instance, v))
      fail(repr(instance) + " is greater than or equal to the maximum of " + repr(v));
  } else if (k == "multipleOf") {
    if (!number || !v.is_number()) return;
    bool failed;
    double x = *instance.number(), d = *v.number();
    if (!is_python_int(v)) {
      double q = x / d;
      failed = std::isfinite(q) ? std::trunc(q) != q : std::fmod(x, d) != 0;
    } else if (instance.int64() && v.int64()) {
      failed = *v.int64() != 0 && *instance.int64() % *v.int64() != 0;
    } else {
      failed = d != 0 && std::fmod(x, d) != 0;
    }
    if (failed) fail(repr(instance) + " is not a multiple of " + repr(v));
  } else if (k == "minLength" || k == "maxLength") {
    if (!instance.is_string() || !v.is_number()) return;
    double n = *v.number(), size = static_cast<double>(code_points(*instance.string()));
    if (k == "minLength" && size < n) fail(repr(instance) + (n == 1 ? " should be non-empty" : " is too short"));
    if (k == "maxLength" && size > n) fail(repr(instance) + (n == 0 ? " is expected to be empty" : " is too long"));
  } else if (k == "pattern") {
    if (instance.is_string() && v.is_string() && !search(*v.string(), *instance.string()))
      fail(repr(instance) + " does not match " + repr(v));
  } else if (k == "allOf") {
    for (std::size_t i = 0; i < v.size(); ++i) descend(instance, v[i], out, first_only, depth);
  } else if (k == "anyOf" || k == "oneOf") {
    std::vector<Error> all;
    std::size_t i = 0;
    for (; i < v.size(); ++i) {
      std::size_t n = all.size();
      descend(instance, v[i], all, false, depth);
      if (all.size() == n) break;
    }
    if (i == v.size()) {
      fail(repr(instance) + " is not valid under any of the given schemas");
      out.back().context = std::move(all);
    } else if (k == "oneOf") {
      std::string valid;
      for (std::size_t j = i + 1; j < v.size(); ++j)
        if (is_valid(instance, v[j], depth + 1)) valid += repr(v[j]) + ", ";
      if (!valid.empty()) fail(repr(instance) + " is valid under each of " + valid + repr(v[i]));
    }
  } else if (k == "not") {
    if (is_valid(instance, v, depth + 1)) fail(repr(instance) + " should not be valid under " + repr(v));
  } else if (k == "if" && draft_ >= 7) {
    if (is_valid(instance, v, depth + 1)) {
      if (schema["then"].exists()) descend(instance, schema["then"], out, first_only, depth);
    } else if (schema["else"].exists()) {
      descend(instance, schema["else"], out, first_only, depth);
    }
  } else if (k == "$ref") {
    if (v.is_string()) descend(instance, resolve(*v.string()), out, first_only, depth);
  }
}

int draft_of(const JsonView &schema)
{
  std::string_view id = schema["$schema"].string_or();
  if (!id.empty() && id.back() == '#') id.remove_suffix(1);
  if (id == "http://json-schema.org/draft-03/schema") return 3;
  if (id == "http://json-schema.org/draft-04/schema") return 4;
  if (id == "http://json-schema.org/draft-06/schema") return 6;
  if (id == "http://json-schema.org/draft-07/schema") return 7;
  if (id == "https://json-schema.org/draft/2019-09/schema") return 2019;
  return 2020;  // jsonschema's default for no (or an unknown) $schema
}

}  // namespace

std::string python_repr(const JsonView &value) { return repr(value); }

std::optional<SchemaFailure> validate_json_schema(const JsonView &schema, const JsonView &instance)
{
  Validator v(schema, draft_of(schema));
  std::vector<Error> errors;
  try {
    v.errors(instance, schema, errors, false, 0);
  } catch (const Fatal &f) {
    return SchemaFailure{f.message, false};
  }
  const Error *best = best_match(errors);
  if (!best) return std::nullopt;
  return SchemaFailure{best->message, true};
}

}  // namespace ccbridge::detail
