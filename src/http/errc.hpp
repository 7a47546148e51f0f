#pragma once
// Failures of the http module (category "http"). Stable values: they reach logs and metrics. Append only.

#include <boost/system/error_code.hpp>
#include <type_traits>

namespace dispatch::http {

enum class Errc {
    kTransport = 1,    // resolve/connect/read/write failed, or the peer closed the connection mid-exchange
    kTimeout = 2,      // connect, handshake or request deadline passed
    kTls = 3,          // handshake failed: certificate not trusted, host name mismatch, protocol; or bad PEM files
    kTooLarge = 4,     // the response body exceeded ClientOptions::max_response_body
    kBadResponse = 5,  // the peer's bytes are not valid HTTP/1.1
    kBadUrl = 6,       // the URL cannot be parsed, or its scheme is not https/http
    kBadConfig = 7,    // options that cannot work (listen address, thread count)
};

const boost::system::error_category& Category() noexcept;
inline boost::system::error_code make_error_code(Errc e) noexcept { return {static_cast<int>(e), Category()}; }

}  // namespace dispatch::http

template <>
struct boost::system::is_error_code_enum<dispatch::http::Errc> : std::true_type {};
