#include "store/errc.hpp"

#include <string>

namespace dispatch::store {
namespace {

class CategoryImpl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "store"; }
    std::string message(int ev) const override {
        switch (static_cast<Errc>(ev)) {
            case Errc::kBusy:
                return "database busy";
            case Errc::kConstraint:
                return "constraint violated";
            case Errc::kCorrupt:
                return "database corrupt";
            case Errc::kIo:
                return "database i/o failed";
            case Errc::kMigration:
                return "schema migration failed";
            case Errc::kNotFound:
                return "not found";
            case Errc::kClosed:
                return "store closed";
            case Errc::kConflict:
                return "version conflict";
            case Errc::kLeaseLost:
                return "lease lost";
            case Errc::kSql:
                return "sql error";
            case Errc::kUnavailable:
                return "database unavailable";
            case Errc::kInvalidArgument:
                return "invalid argument";
        }
        return "store error " + std::to_string(ev);
    }
};

}  // namespace

const boost::system::error_category& Category() noexcept {
    static const CategoryImpl category;
    return category;
}

}  // namespace dispatch::store
