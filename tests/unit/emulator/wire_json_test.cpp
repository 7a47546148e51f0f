// What the wire carries: plain-decimal doubles like PHP's json_encode (CONTRACT §2.2 `time`), the 429 time block
// (limits.md), escaping.
#include "emulator/wire_json.hpp"

#include <regex>

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
    EXPECT_TRUE(time.at("start").is_double());
    EXPECT_DOUBLE_EQ(time.at("start").as_double(), static_cast<double>(clock_.Now()) / 1000.0);
    EXPECT_GE(time.at("duration").as_double(), 0.0);
    EXPECT_DOUBLE_EQ(time.at("finish").as_double(), time.at("start").as_double() + time.at("duration").as_double());
    EXPECT_EQ(time.at("operating_reset_at").as_int64(), clock_.Now() / 1000 + 600);
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
    EXPECT_EQ(r.body.at("time").at("operating_reset_at").as_int64(), clock_.Now() / 1000 + 90);
    EXPECT_TRUE(r.body.at("time").as_object().contains("operating"));
}

TEST_F(EmulatorTest, InjectedOperationTimeLimitDefaultsToTheTenMinuteWindow) {
    Parse(emu_->Admin().Handle(
        "POST",
        "faults",
        bj::object{
            {"fail", bj::object{{"method", "user.current"}, {"status", 429}, {"error", "OPERATION_TIME_LIMIT"}}}}));

    auto r = Hook("user.current");

    EXPECT_EQ(r.body.at("time").at("operating_reset_at").as_int64(), clock_.Now() / 1000 + 600);
}

TEST_F(EmulatorTest, OtherErrorsCarryNoTimeBlock) {
    auto r = Hook("crm.item.get", bj::object{{"entityTypeId", 4242}, {"id", 1}});

    EXPECT_EQ(r.status, 400);
    EXPECT_FALSE(r.body.as_object().contains("time"));
}

}  // namespace
}  // namespace dispatch::emulator::testing
