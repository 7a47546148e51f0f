#include "intake/errc.hpp"

#include <string>

namespace dispatch::intake {
namespace {

class CategoryImpl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "intake"; }
    std::string message(int ev) const override {
        switch (static_cast<Errc>(ev)) {
            case Errc::kMalformedBody:
                return "malformed body";
            case Errc::kMissingField:
                return "missing field";
            case Errc::kUnsupportedEvent:
                return "unsupported event";
            case Errc::kUnknownPortal:
                return "unknown portal";
            case Errc::kBadToken:
                return "bad application token";
            case Errc::kTooLarge:
                return "body too large";
            case Errc::kStoreUnavailable:
                return "store unavailable";
            case Errc::kInstallNotVerified:
                return "install not verified";
            case Errc::kCheckUnavailable:
                return "install check unavailable";
        }
        return "intake error " + std::to_string(ev);
    }
};

}  // namespace

const boost::system::error_category& Category() noexcept {
    static const CategoryImpl category;
    return category;
}

unsigned HttpStatus(Errc e) noexcept {
    switch (e) {
        case Errc::kMalformedBody:
        case Errc::kMissingField:
        case Errc::kUnsupportedEvent:
            return 400;
        case Errc::kUnknownPortal:
        case Errc::kBadToken:
        case Errc::kInstallNotVerified:
            return 401;
        case Errc::kTooLarge:
            return 413;
        case Errc::kStoreUnavailable:
        case Errc::kCheckUnavailable:
            return 503;
    }
    return 500;
}

}  // namespace dispatch::intake
