#include "core/json.hpp"

#include "core/errc.hpp"
#include "support/test_support.hpp"

namespace dispatch::json {
namespace {

TEST(ToInt, AcceptsNumbersAndNumericStrings) {
    EXPECT_EQ(ToInt(bj::value(42)), 42);
    EXPECT_EQ(ToInt(bj::value("42")), 42);
    EXPECT_EQ(ToInt(bj::value(42.0)), 42);
    EXPECT_EQ(ToInt(bj::value("-7")), -7);
}

TEST(ToInt, RejectsEverythingElse) {
    EXPECT_EQ(ToInt(bj::value("4x")), std::nullopt);
    EXPECT_EQ(ToInt(bj::value("")), std::nullopt);
    EXPECT_EQ(ToInt(bj::value(4.5)), std::nullopt);
    EXPECT_EQ(ToInt(bj::value(nullptr)), std::nullopt);
    EXPECT_EQ(ToInt(bj::value(true)), std::nullopt);
}

TEST(ToBool, UnderstandsBitrixYN) {
    EXPECT_EQ(ToBool(bj::value("Y")), true);
    EXPECT_EQ(ToBool(bj::value("N")), false);
    EXPECT_EQ(ToBool(bj::value(1)), true);
    EXPECT_EQ(ToBool(bj::value("maybe")), std::nullopt);
}

TEST(Parse, ReportsMalformedJson) {
    EXPECT_THAT(Parse("{\"a\":"), HasErrc(CoreErrc::kParse));
    EXPECT_THAT(Parse("{\"a\":1}"), IsOk());
}

TEST(Find, IsSafeOnNonObjects) {
    const bj::value arr = bj::array{1, 2};
    const bj::value obj = {{"id", "17"}, {"name", "x"}};

    EXPECT_EQ(Find(arr, "id"), nullptr);
    EXPECT_EQ(IntAt(obj, "id"), 17);
    EXPECT_EQ(StringAt(obj, "name"), "x");
    EXPECT_EQ(IntAt(obj, "missing"), std::nullopt);
}

TEST(Path, BuildsReadablePaths) {
    EXPECT_EQ(PathIndex(PathKey("", "calendars"), 2), "$.calendars[2]");
    EXPECT_EQ(PathKey("$.a", "b"), "$.a.b");
}

}  // namespace
}  // namespace dispatch::json
