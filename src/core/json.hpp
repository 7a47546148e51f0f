#pragma once
// Boost.JSON helpers used at every edge. Bitrix24 sends numbers as strings in some methods and as numbers in
// others ("ID":"42" vs "id":42), so ids are read leniently here and are strict int64 inside.

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace dispatch::json {

namespace bj = boost::json;

// Parses text as JSON; the error detail carries the offset.
Result<bj::value> Parse(std::string_view text);
// Reads and parses a file; the detail names the file.
Result<bj::value> ParseFile(const std::string& path);
Result<std::string> ReadFile(const std::string& path);

// "42", 42, 42.0 → 42. Anything else (empty, "4x", 4.5, null, bool) → nullopt.
std::optional<std::int64_t> ToInt(const bj::value& v);
std::optional<std::int64_t> ParseInt(std::string_view text);
// "Y"/"N", "1"/"0", true/false, 1/0 → bool.
std::optional<bool> ToBool(const bj::value& v);
// A string value, or a number printed as a string (lenient for ids); nullopt otherwise.
std::optional<std::string> ToString(const bj::value& v);

// Lookup helpers that never throw: nullptr when the key is missing or the value is not an object.
const bj::value* Find(const bj::value& v, std::string_view key);
std::optional<std::int64_t> IntAt(const bj::value& v, std::string_view key);
std::optional<std::string> StringAt(const bj::value& v, std::string_view key);
// The same on an object, without copying it into a value first.
const bj::value* Find(const bj::object& o, std::string_view key);
std::optional<std::int64_t> IntAt(const bj::object& o, std::string_view key);
std::optional<std::string> StringAt(const bj::object& o, std::string_view key);

// JSON Pointer-ish path for error messages: "$.calendars[2].hours.mon".
std::string PathKey(const std::string& parent, std::string_view key);
std::string PathIndex(const std::string& parent, std::size_t index);

// Compact serialisation (boost::json::serialize), named here so callers need not include more.
std::string Dump(const bj::value& v);

}  // namespace dispatch::json
