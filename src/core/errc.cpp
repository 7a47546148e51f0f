#include "core/errc.hpp"

#include <string>

namespace dispatch {
namespace {

class CoreCategoryImpl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "core"; }
    std::string message(int ev) const override {
        switch (static_cast<CoreErrc>(ev)) {
            case CoreErrc::kIo:
                return "i/o failed";
            case CoreErrc::kParse:
                return "parse error";
            case CoreErrc::kInvalid:
                return "invalid";
            case CoreErrc::kNotFound:
                return "not found";
            case CoreErrc::kUnsupported:
                return "unsupported";
        }
        return "core error " + std::to_string(ev);
    }
};

}  // namespace

const boost::system::error_category& CoreCategory() noexcept {
    static const CoreCategoryImpl category;
    return category;
}

}  // namespace dispatch
