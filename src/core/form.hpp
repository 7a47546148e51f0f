#pragma once
// application/x-www-form-urlencoded with PHP-style bracket keys, the way Bitrix24 sends events and robot calls and
// accepts REST parameters (CONTRACT §2.1, §10.3): `data[FIELDS][ID]=57&auth[domain]=x&document_id[0]=crm`.

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace dispatch::form {

// Decodes a body into a nested JSON object. Every scalar stays a string (that is what the wire carries). Keys may
// arrive percent-encoded (%5B/%5D). An object whose keys are exactly 0..n-1 becomes an array; `a[]=x&a[]=y`
// appends. A repeated scalar key: the LAST value wins (documented so that a forged duplicate
// `auth[application_token]` cannot hide behind the first one: the check sees what the parser kept). Fails with
// CoreErrc::kParse on a bad %-escape, a key with unbalanced brackets, nesting deeper than 16 or more than 10,000
// pairs.
Result<boost::json::object> Parse(std::string_view body);

// Encodes a JSON object (or array) as a bracket-key form/query string: {"filter":{">id":5},"select":["id"]} →
// "filter%5B%3Eid%5D=5&select%5B0%5D=id". true/false become "1"/"" like PHP's http_build_query; null is skipped.
std::string Encode(const boost::json::value& v);

// Percent-encodes one component (RFC 3986 unreserved characters stay as they are).
std::string EscapeComponent(std::string_view s);

}  // namespace dispatch::form
