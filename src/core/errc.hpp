#pragma once
// Codes for failures that belong to no particular module (files, parsing, validation). Append only.

#include <boost/system/error_code.hpp>
#include <type_traits>

namespace dispatch {

enum class CoreErrc {
    kIo = 1,               // a file could not be read or written
    kParse = 2,            // text is not what it claims to be (JSON, a number, a time stamp)
    kInvalid = 3,          // well-formed but violates a schema or a rule; detail names the JSON path
    kNotFound = 4,         // a named thing (zone, calendar, file) does not exist
    kUnsupported = 5,      // a feature that is recognised but not handled
};

const boost::system::error_category& CoreCategory() noexcept;
inline boost::system::error_code make_error_code(CoreErrc e) noexcept {
    return {static_cast<int>(e), CoreCategory()};
}

}  // namespace dispatch

template <>
struct boost::system::is_error_code_enum<dispatch::CoreErrc> : std::true_type {};
