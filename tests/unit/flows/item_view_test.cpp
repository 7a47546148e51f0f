#include "flows/item_view.hpp"

#include <gtest/gtest.h>

#include "core/json.hpp"

namespace dispatch::flows {
namespace {

namespace bj = boost::json;

// What Bitrix24 answers for values we wrote must not look like a change, or every sweep rewrites the portal.
TEST(ChangedFields, ValuesReadBackAsBitrix24StoresThemAreUnchanged) {
    const bj::object wanted{{"ufDate", "2026-03-01"},
                            {"ufInstant", "2026-03-02T10:00:00Z"},
                            {"ufFlag", "Y"},
                            {"ufId", 25},
                            {"ufMedian", 45.5},
                            {"ufWhole", 90.0},
                            {"ufEnum", 41}};
    const bj::object current{{"ufDate", "2026-03-01T00:00:00+03:00"},
                             {"ufInstant", "2026-03-02T13:00:00+03:00"},
                             {"ufFlag", true},
                             {"ufId", "25"},
                             {"ufMedian", "45.50"},
                             {"ufWhole", 90},
                             {"ufEnum", bj::array{41}}};

    EXPECT_TRUE(ChangedFields(wanted, current).empty()) << json::Dump(ChangedFields(wanted, current));
}

TEST(ChangedFields, RealChangesAreKeptAndOnlyThem) {
    const bj::object wanted{{"ufDate", "2026-03-01"}, {"ufMedian", 45.9}, {"ufCount", 3}, {"ufNew", "x"}};
    const bj::object current{{"ufDate", "2026-02-01T00:00:00+03:00"}, {"ufMedian", 45.5}, {"ufCount", 3}};

    const bj::object changed = ChangedFields(wanted, current);

    EXPECT_EQ(changed, (bj::object{{"ufDate", "2026-03-01"}, {"ufMedian", 45.9}, {"ufNew", "x"}}));
}

}  // namespace
}  // namespace dispatch::flows
