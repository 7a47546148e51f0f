#include "core/time_format.hpp"

#include "core/errc.hpp"
#include "support/test_support.hpp"

namespace dispatch {
namespace {

TEST(ParseIso8601, ReadsBitrixOffsets) {
    const auto t = ParseIso8601("2026-03-02T09:00:00+03:00");

    ASSERT_THAT(t, IsOk());
    EXPECT_EQ(*t, FromCivilUtc(2026, 3, 2, 6, 0, 0));
}

TEST(ParseIso8601, ReadsZuluAndFractions) {
    EXPECT_EQ(ParseIso8601("2026-03-02T06:00:00.250Z").value(), FromCivilUtc(2026, 3, 2, 6) + 250);
    EXPECT_EQ(ParseIso8601("2026-03-02 06:00:00").value(), FromCivilUtc(2026, 3, 2, 6));
    EXPECT_EQ(ParseIso8601("2026-03-02T01:30:00-0500").value(), FromCivilUtc(2026, 3, 2, 6, 30));
}

TEST(ParseIso8601, RejectsGarbage) {
    EXPECT_THAT(ParseIso8601("2026-02-30T00:00:00Z"), HasErrc(CoreErrc::kParse));
    EXPECT_THAT(ParseIso8601("yesterday"), HasErrc(CoreErrc::kParse));
    EXPECT_THAT(ParseIso8601("2026-03-02T09:00:00+3"), HasErrc(CoreErrc::kParse));
}

TEST(FormatIso8601, RoundTrips) {
    const TimeMs t = FromCivilUtc(2026, 12, 31, 23, 59, 59);

    EXPECT_EQ(FormatIso8601(t), "2026-12-31T23:59:59Z");
    EXPECT_EQ(FormatIso8601(t, 180), "2027-01-01T02:59:59+03:00");
    EXPECT_EQ(ParseIso8601(FormatIso8601(t, -300)).value(), t);
    EXPECT_EQ(FormatIso8601(FromCivilUtc(1969, 12, 31, 23)), "1969-12-31T23:00:00Z");
}

}  // namespace
}  // namespace dispatch
