#pragma once
// The error vocabulary shared by every module (STYLE.md §3.5): bugs abort, expected failures are values.

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <ostream>
#include <string>
#include <string_view>

namespace dispatch {

// A failure the caller is expected to handle: a stable code for decisions and tests, plus free-form detail for
// logs (never parsed, never shown to untrusted callers, never holding a secret).
struct Error {
    boost::system::error_code code;
    std::string detail;
};

template <class T>
using Result = boost::system::result<T, Error>;

// "core:3 invalid ($.zone: unknown time zone)": for test output and logs.
std::ostream& operator<<(std::ostream& os, const Error& error);

// Used by Result<T>::value() on an error; found by argument-dependent lookup.
[[noreturn]] void throw_exception_from_error(const Error& error, const boost::source_location& loc);

// `return Fail(Errc::kX, "detail");` from any function returning Result<T>.
template <class E>
Error Fail(E code, std::string detail = {}) {
    return Error{make_error_code(code), std::move(detail)};
}

[[noreturn]] void CheckFailed(const char* file, int line, const char* cond, std::string_view why) noexcept;

}  // namespace dispatch

// Always on: a broken invariant (never bad input) logs where and aborts.
#define DISPATCH_CHECK(cond, why)                                         \
    do {                                                                  \
        if (!(cond)) {                                                    \
            ::dispatch::CheckFailed(__FILE__, __LINE__, #cond, (why));    \
        }                                                                 \
    } while (false)

#ifdef NDEBUG
#define DISPATCH_ASSERT(cond, why) \
    do {                           \
    } while (false)
#else
#define DISPATCH_ASSERT(cond, why) DISPATCH_CHECK(cond, why)
#endif
