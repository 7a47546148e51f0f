// What the wire carries: plain-decimal doubles like PHP's json_encode (CONTRACT §2.2 `time`), the 429 time block
// (limits.md), escaping.
#include "emulator/wire_json.hpp"

#include <regex>

#include "core/time_format.hpp"
#include "emulator/clock_control.hpp"
#include "emulator/portal.hpp"
#include "unit/emulator/emulator_fixture.hpp"

namespace dispatch::emulator::testing {
namespace {

// A number written with an exponent anywhere in a JSON text ("1.23E-2", "1e+09").
bool HasExponent(const std::string& text) {
    static const std::regex kExponent(R"([0-9][eE][-+]?[0-9])");
    return std::regex_search(text, kExponent);
}

TEST(PlainDouble, WritesDecimalsWithoutExponent) {
    EXPECT_EQ(PlainDouble(0.0123), "0.0123");
    EXPECT_EQ(PlainDouble(1767225600.1234), "1767225600.1234");
    EXPECT_EQ(PlainDouble(1768201200.0), "1768201200.0");
    EXPECT_EQ(PlainDouble(0.0), "0.0");
    EXPECT_EQ(PlainDouble(1.2e-05), "0.000012");
    EXPECT_EQ(PlainDouble(-2.5), "-2.5");
}

TEST(WireJson, MatchesBoostJsonExceptForDoubles) {
    const bj::value v = bj::object{{"s", "a\"b\\c\n\x01 é"},
                                   {"i", -42},
                                   {"u", 18446744073709551615ull},
                                   {"b", true},
                                   {"n", nullptr},
                                   {"a", bj::array{1, "x", bj::object{}}},
                                   {"d", 0.5}};

    const auto text = WireJson(v);

    EXPECT_EQ(json::Parse(text).value(), v);
    EXPECT_EQ(text.substr(0, text.find(",\"d\"")), json::Dump(v).substr(0, json::Dump(v).find(",\"d\"")));
    EXPECT_NE(text.find("\"d\":0.5"), std::string::npos);
}

TEST(WireJson, EscapesStringsLikeBoostJsonAtEveryOffset) {
    // Strings long enough for the eight-bytes-at-a-time path, with one character needing an escape at each offset.
    const std::string specials[] = {"\"", "\\", "\n", "\x01", "\x1f", "\t"};
    for (const auto& special : specials) {
        for (std::size_t at = 0; at < 24; ++at) {
            std::string text(24, 'a');
            text.replace(at, 1, special);
            text += "\xc3\xa9 tail";  // UTF-8 passes through

            EXPECT_EQ(WireJson(bj::value(text)), json::Dump(bj::value(text))) << at;
        }
    }
}

TEST_F(EmulatorTest, TimeBlockIsPlainDecimalsOnTheWire) {
    clock_.Advance(123);  // a start with a fraction of a second
    RestRequest req;
    req.method = "crm.type.list";
    req.webhook_user = 1;
    req.webhook_secret = emu_->WebhookSecret();

    const auto raw = emu_->Rest().Handle(std::move(req));
    const auto body = json::Parse(raw.body).value();

    EXPECT_FALSE(HasExponent(raw.body)) << raw.body;
    const auto& time = body.at("time");
    EXPECT_NE(raw.body.find("\"start\":1768201200.123,"), std::string::npos) << raw.body;  // 2026-01-12T07:00:00.123Z
    EXPECT_GE(time.at("duration").as_double(), 0.0);
    EXPECT_EQ(time.at("operating_reset_at").as_int64(), 1768201200 + 600);
}

TEST_F(EmulatorTest, TimeBlockRoundsToMicrosecondsAndDatesInThePortalZone) {
    const TimeMs start = FromCivilUtc(2026, 1, 12, 7, 0, 0) + 123;

    const auto time = emu_->Rest().TimeBlock(start, 1.2345674);

    EXPECT_EQ(WireJson(time.at("duration")), "1.234567");
    EXPECT_EQ(WireJson(time.at("start")), "1768201200.123");
    EXPECT_NEAR(time.at("finish").as_double(), 1768201201.357567, 1e-6);
    EXPECT_EQ(time.at("date_start").as_string(), "2026-01-12T10:00:00+03:00");
    EXPECT_EQ(time.at("date_finish").as_string(), "2026-01-12T10:00:01+03:00");  // 07:00:01.358Z, whole seconds
    EXPECT_EQ(time.at("operating_reset_at").as_int64(), 1768201800);
}

// Portal::IsoTo is a hand-rolled copy of FormatIso8601 for list pages; this keeps the two texts the same.
TEST(PortalIso, IsFormatIso8601OfTheWholeSecondInThePortalZone) {
    ManualClock clock(0);
    ClockControl control(clock);
    const TimeMs instants[] = {0,
                               -1,
                               999,
                               FromCivilUtc(1969, 12, 31, 23, 59, 59) + 500,
                               FromCivilUtc(2024, 2, 29, 21, 30, 0),
                               FromCivilUtc(2026, 12, 31, 23, 59, 59) + 999,
                               FromCivilUtc(9999, 12, 31, 12, 0, 0)};
    for (const int offset : {0, 180, -300, 330, -720, 840}) {
        PortalSettings settings;
        settings.utc_offset_minutes = offset;
        const Portal portal(settings, control);
        for (const TimeMs t : instants) {
            const TimeMs whole = t - ((t % 1000) + 1000) % 1000;

            EXPECT_EQ(portal.Iso(t), FormatIso8601(whole, offset)) << t << " " << offset;
        }
    }
    PortalSettings moscow;
    const Portal portal(moscow, control);
    EXPECT_EQ(portal.Iso(FromCivilUtc(2026, 3, 2, 6, 0, 0) + 999), "2026-03-02T09:00:00+03:00");
    EXPECT_EQ(portal.Iso(-1), "1970-01-01T02:59:59+03:00");
}

TEST_F(EmulatorTest, BatchResultTimesArePlainDecimalsToo) {
    RestRequest req;
    req.method = "batch";
    req.params = bj::object{{"cmd", bj::object{{"a", "user.current"}, {"b", "crm.type.list"}}}};
    req.webhook_user = 1;
    req.webhook_secret = emu_->WebhookSecret();

    const auto raw = emu_->Rest().Handle(std::move(req));

    EXPECT_EQ(raw.status, 200);
    EXPECT_FALSE(HasExponent(raw.body)) << raw.body;
    EXPECT_TRUE(json::Parse(raw.body).value().at("result").at("result_time").at("b").at("duration").is_double());
}

TEST_F(EmulatorTest, InjectedOperationTimeLimitSaysWhenTheMethodIsReleased) {
    Parse(emu_->Admin().Handle("POST",
                               "faults",
                               bj::object{{"fail",
                                           bj::object{{"method", "crm.item.list"},
                                                      {"status", 429},
                                                      {"error", "OPERATION_TIME_LIMIT"},
                                                      {"reset_in_ms", 90'000}}}}));
    const auto [id, e] = MakeType();
    clock_.Advance(5000);

    auto r = Hook("crm.item.list", bj::object{{"entityTypeId", e}});

    EXPECT_EQ(r.status, 429);
    EXPECT_EQ(r.Error(), "OPERATION_TIME_LIMIT");
    EXPECT_EQ(r.body.at("time").at("operating_reset_at").as_int64(), 1768201205 + 90);  // 2026-01-12T07:00:05Z
    EXPECT_TRUE(r.body.at("time").as_object().contains("operating"));
}

TEST_F(EmulatorTest, InjectedOperationTimeLimitDefaultsToTheTenMinuteWindow) {
    Parse(emu_->Admin().Handle(
        "POST",
        "faults",
        bj::object{
            {"fail", bj::object{{"method", "user.current"}, {"status", 429}, {"error", "OPERATION_TIME_LIMIT"}}}}));

    auto r = Hook("user.current");

    EXPECT_EQ(r.body.at("time").at("operating_reset_at").as_int64(), 1768201200 + 600);
}

TEST_F(EmulatorTest, OtherErrorsCarryNoTimeBlock) {
    auto r = Hook("crm.item.get", bj::object{{"entityTypeId", 4242}, {"id", 1}});

    EXPECT_EQ(r.status, 400);
    EXPECT_FALSE(r.body.as_object().contains("time"));
}

}  // namespace
}  // namespace dispatch::emulator::testing
