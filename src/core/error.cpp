#include "core/error.hpp"

#include <boost/system/system_error.hpp>
#include <boost/throw_exception.hpp>
#include <cstdio>
#include <cstdlib>

namespace dispatch {

void throw_exception_from_error(const Error& error, const boost::source_location& loc) {
    boost::throw_exception(boost::system::system_error(error.code, error.detail), loc);
}

std::ostream& operator<<(std::ostream& os, const Error& error) {
    return os << error.code.category().name() << ':' << error.code.value() << ' ' << error.code.message() << " ("
              << error.detail << ')';
}

void CheckFailed(const char* file, int line, const char* cond, std::string_view why) noexcept {
    std::fprintf(stderr, "level=fatal at=%s:%d check=\"%s\" why=\"%.*s\"\n", file, line, cond,
                 static_cast<int>(why.size()), why.data());
    std::abort();
}

}  // namespace dispatch
