#include "http/errc.hpp"

#include <string>

namespace dispatch::http {
namespace {

class CategoryImpl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "http"; }
    std::string message(int ev) const override {
        switch (static_cast<Errc>(ev)) {
            case Errc::kTransport:
                return "transport failure";
            case Errc::kTimeout:
                return "timed out";
            case Errc::kTls:
                return "tls failure";
            case Errc::kTooLarge:
                return "response too large";
            case Errc::kBadResponse:
                return "malformed http response";
            case Errc::kBadUrl:
                return "bad url";
            case Errc::kBadConfig:
                return "bad http configuration";
        }
        return "http error " + std::to_string(ev);
    }
};

}  // namespace

const boost::system::error_category& Category() noexcept {
    static const CategoryImpl category;
    return category;
}

}  // namespace dispatch::http
