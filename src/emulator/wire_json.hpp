#pragma once
// JSON as the portal writes it on the wire. Bitrix24 is PHP: json_encode prints floats in plain decimal notation
// ("duration":0.0123, "start":1767225600.1234, a whole float as 10.0), never with an exponent, while Boost.JSON's
// serializer writes 1.23E-2. Every body the emulator sends (REST envelopes, /oauth/, /_emu/) goes through here.
// Strings are escaped as JSON requires (quote, backslash, control characters); UTF-8 passes through unchanged.

#include <boost/json.hpp>
#include <string>

namespace dispatch::emulator {

std::string WireJson(const boost::json::value& v);
// Overloads so that an object or array is not first copied into a temporary value.
std::string WireJson(const boost::json::object& o);
std::string WireJson(const boost::json::array& a);

// One double in plain decimal notation: the shortest text that reads back to the same value, always with a
// fractional part ("10.0"); tiny magnitudes are written out with up to 15 decimals; NaN/inf (never produced by
// the emulator) become 0.
std::string PlainDouble(double d);

}  // namespace dispatch::emulator
