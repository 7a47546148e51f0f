// Runs every tests/data/sla/*.json scenario (STYLE.md §3.9, "SLA scenarios as data"). A scenario names a policy
// (a path under the source tree, usually workplace/sla.json, or an inline object of the same shape), lists ledger
// events with ISO 8601 instants, and checks the fold at given instants. Only the fields a check names are
// compared; "decisions" is compared as a whole list (order: by due time). Expected values are written by hand in
// the JSON files, never produced by the code under test.

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/errc.hpp"
#include "core/json.hpp"
#include "core/time_format.hpp"
#include "sla/fold.hpp"
#include "sla/ledger.hpp"
#include "sla/policy_load.hpp"
#include "support/test_support.hpp"

namespace dispatch::sla {
namespace {

namespace bj = boost::json;

struct Loaded {
    SlaConfig config;
    CalendarSet calendars;
};

std::vector<std::string> ScenarioFiles() {
    std::vector<std::string> files;
    const std::filesystem::path dir = dispatch::testing::SourcePath("tests/data/sla");
    if (std::filesystem::exists(dir)) {
        for (const auto& entry : std::filesystem::directory_iterator(dir)) {
            if (entry.path().extension() == ".json") {
                files.push_back(entry.path().string());
            }
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

TimeMs Instant(const bj::value& v) {
    auto t = ParseIso8601(std::string(v.as_string()));
    EXPECT_TRUE(t.has_value()) << "bad instant " << bj::serialize(v);
    return t ? *t : 0;
}

std::string Show(TimeMs t) { return FormatIso8601(t, 180); }

Result<Loaded> LoadPolicy(const bj::value& policy) {
    Result<SlaConfig> config = Fail(CoreErrc::kInvalid, "policy");
    if (policy.is_string()) {
        config = LoadSlaConfig(dispatch::testing::SourcePath(std::string(policy.as_string())),
                               dispatch::testing::SourcePath("schemas/sla.schema.json"));
    } else {
        config = ParseSlaConfig(policy);
    }
    if (!config) {
        return config.error();
    }
    auto calendars = CompileCalendars(config->calendars, 2025, 2027);
    if (!calendars) {
        return calendars.error();
    }
    return Loaded{std::move(*config), std::move(*calendars)};
}

Event ToEvent(const bj::object& o, std::int64_t seq) {
    Event e;
    e.seq = seq;
    e.at = Instant(o.at("at"));
    const std::string kind(o.at("kind").as_string());
    const auto parsed = ParseEventKind(kind);
    EXPECT_TRUE(parsed.has_value()) << "unknown event kind " << kind;
    e.kind = parsed.value_or(EventKind::kCreated);
    if (const auto* v = o.if_contains("stage")) {
        e.stage = ParseStageRole(std::string(v->as_string())).value();
    }
    if (const auto* v = o.if_contains("line")) {
        e.line = static_cast<int>(v->as_int64());
    }
    if (const auto* v = o.if_contains("actor")) {
        e.actor = v->as_int64();
    }
    if (const auto* v = o.if_contains("assignee")) {
        e.assignee = v->as_int64();
    }
    if (const auto* v = o.if_contains("priority")) {
        e.priority = ParsePriority(std::string(v->as_string())).value();
    }
    if (const auto* v = o.if_contains("template")) {
        e.template_name = std::string(v->as_string());
    }
    if (const auto* v = o.if_contains("metric")) {
        e.metric = ParseMetric(std::string(v->as_string())).value();
    }
    if (const auto* v = o.if_contains("cycle")) {
        e.cycle = static_cast<int>(v->as_int64());
    }
    if (const auto* v = o.if_contains("threshold")) {
        e.threshold = static_cast<int>(v->as_int64());
    }
    if (const auto* v = o.if_contains("level")) {
        e.threshold = static_cast<int>(v->as_int64());
    }
    return e;
}

void CheckClock(const std::string& where, const bj::object& want, const MetricClock& got) {
    SCOPED_TRACE(where);
    if (const auto* v = want.if_contains("state")) {
        EXPECT_EQ(std::string(v->as_string()), Name(got.state));
    }
    if (const auto* v = want.if_contains("cycle")) {
        EXPECT_EQ(v->as_int64(), got.cycle);
    }
    if (const auto* v = want.if_contains("start")) {
        EXPECT_EQ(Show(Instant(*v)), Show(got.start));
    }
    if (const auto* v = want.if_contains("deadline")) {
        ASSERT_TRUE(got.deadline.has_value());
        EXPECT_EQ(Show(Instant(*v)), Show(*got.deadline));
    }
    if (const auto* v = want.if_contains("stop")) {
        if (v->is_null()) {
            EXPECT_FALSE(got.stop.has_value());
        } else {
            ASSERT_TRUE(got.stop.has_value());
            EXPECT_EQ(Show(Instant(*v)), Show(*got.stop));
        }
    }
    if (const auto* v = want.if_contains("elapsed_business_minutes")) {
        EXPECT_EQ(v->as_int64() * kMinuteMs, got.elapsed_business_ms);
    }
    if (const auto* v = want.if_contains("elapsed_calendar_minutes")) {
        EXPECT_EQ(v->as_int64() * kMinuteMs, got.elapsed_calendar_ms);
    }
    if (const auto* v = want.if_contains("paused_minutes")) {
        EXPECT_EQ(v->as_int64() * kMinuteMs, got.paused_ms);
    }
    if (const auto* v = want.if_contains("target_minutes")) {
        EXPECT_EQ(v->as_int64() * kMinuteMs, got.target_ms);
    }
    if (const auto* v = want.if_contains("calendar")) {
        ASSERT_NE(got.calendar, nullptr);
        EXPECT_EQ(std::string(v->as_string()), got.calendar->Id());
    }
}

std::string ActionText(const Action& a) {
    std::string out(Name(a.kind));
    if (a.kind == ActionKind::kNotify || a.kind == ActionKind::kAssign) {
        for (std::size_t i = 0; i < a.roles.size(); ++i) {
            out += (i == 0 ? ":" : ",") + std::string(Name(a.roles[i]));
        }
    }
    return out;
}

// One line per decision with only the fields the expectation names, so a failure prints a readable diff.
std::string DecisionText(const bj::object& want, const Decision& d) {
    std::string out = std::string(Name(d.kind));
    if (want.contains("metric")) {
        out += " metric=" + std::string(Name(d.metric));
    }
    if (want.contains("cycle")) {
        out += " cycle=" + std::to_string(d.cycle);
    }
    if (want.contains("threshold") || want.contains("level")) {
        out += " threshold=" + std::to_string(d.threshold);
    }
    if (want.contains("due_at")) {
        out += " due_at=" + Show(d.due_at);
    }
    if (want.contains("actions")) {
        out += " actions=";
        if (d.escalation != nullptr) {
            for (const Action& a : d.escalation->actions) {
                out += ActionText(a) + ";";
            }
        }
    }
    if (want.contains("users")) {
        out += " users=";
        for (auto u : d.route.users) {
            out += std::to_string(u) + ";";
        }
    }
    if (want.contains("role")) {
        out += " role=" + (d.route.role ? std::string(Name(*d.route.role)) : std::string("-"));
    }
    if (want.contains("comment")) {
        out += " comment=" + std::string(d.comment.empty() ? "empty" : "set");
    }
    return out;
}

std::string ExpectedText(const bj::object& want) {
    std::string out(want.at("kind").as_string());
    if (const auto* v = want.if_contains("metric")) {
        out += " metric=" + std::string(v->as_string());
    }
    if (const auto* v = want.if_contains("cycle")) {
        out += " cycle=" + std::to_string(v->as_int64());
    }
    if (const auto* v = want.if_contains("threshold")) {
        out += " threshold=" + std::to_string(v->as_int64());
    } else if (const auto* l = want.if_contains("level")) {
        out += " threshold=" + std::to_string(l->as_int64());
    }
    if (const auto* v = want.if_contains("due_at")) {
        out += " due_at=" + Show(Instant(*v));
    }
    if (const auto* v = want.if_contains("actions")) {
        out += " actions=";
        for (const auto& a : v->as_array()) {
            out += std::string(a.as_string()) + ";";
        }
    }
    if (const auto* v = want.if_contains("users")) {
        out += " users=";
        for (const auto& u : v->as_array()) {
            out += std::to_string(u.as_int64()) + ";";
        }
    }
    if (const auto* v = want.if_contains("role")) {
        out += " role=" + (v->is_null() ? std::string("-") : std::string(v->as_string()));
    }
    if (want.contains("comment")) {
        out += " comment=set";
    }
    return out;
}

void RunCheck(const std::string& where, const bj::object& want, const FoldResult& got, std::int64_t ticket) {
    SCOPED_TRACE(where);
    if (const auto* v = want.if_contains("stage")) {
        EXPECT_EQ(std::string(v->as_string()), Name(got.stage));
    }
    if (const auto* v = want.if_contains("line")) {
        EXPECT_EQ(v->as_int64(), got.line);
    }
    if (const auto* v = want.if_contains("priority")) {
        EXPECT_EQ(std::string(v->as_string()), Name(got.priority));
    }
    if (const auto* v = want.if_contains("escalation_level")) {
        EXPECT_EQ(v->as_int64(), got.escalation_level);
    }
    for (const char* flag : {"auto_closed", "auto_accepted", "accepted", "cancelled", "counts_in_sla"}) {
        if (const auto* v = want.if_contains(flag)) {
            const bool actual = std::string_view(flag) == "auto_closed"     ? got.auto_closed
                                : std::string_view(flag) == "auto_accepted" ? got.auto_accepted
                                : std::string_view(flag) == "accepted"      ? got.accepted
                                : std::string_view(flag) == "cancelled"     ? got.cancelled
                                                                            : got.counts_in_sla;
            EXPECT_EQ(v->as_bool(), actual) << flag;
        }
    }
    if (const auto* v = want.if_contains("reaction")) {
        CheckClock(where + " reaction", v->as_object(), got.reaction);
    }
    if (const auto* v = want.if_contains("resolution")) {
        CheckClock(where + " resolution", v->as_object(), got.resolution);
    }
    if (const auto* v = want.if_contains("resolution_total")) {
        CheckClock(where + " resolution_total", v->as_object(), got.resolution_total);
    }
    if (const auto* v = want.if_contains("line2_ola")) {
        if (v->is_null()) {
            EXPECT_FALSE(got.line2_ola.has_value()) << "line2_ola";
        } else {
            ASSERT_TRUE(got.line2_ola.has_value()) << "line2_ola";
            CheckClock(where + " line2_ola", v->as_object(), *got.line2_ola);
        }
    }
    if (const auto* v = want.if_contains("cycles")) {
        const auto& cycles = v->as_array();
        ASSERT_EQ(cycles.size(), got.cycles.size()) << "cycles";
        for (std::size_t i = 0; i < cycles.size(); ++i) {
            CheckClock(where + " cycle " + std::to_string(i + 1), cycles[i].as_object(), got.cycles[i]);
        }
    }
    if (const auto* v = want.if_contains("returns")) {
        const auto& returns = v->as_array();
        ASSERT_EQ(returns.size(), got.returns.size()) << "returns";
        for (std::size_t i = 0; i < returns.size(); ++i) {
            const auto& r = returns[i].as_object();
            EXPECT_EQ(Show(Instant(r.at("at"))), Show(got.returns[i].at));
            EXPECT_EQ(r.at("cycle").as_int64(), got.returns[i].cycle);
            EXPECT_EQ(r.at("resolver").as_int64(), got.returns[i].resolver);
            EXPECT_EQ(r.at("line").as_int64(), got.returns[i].line);
        }
    }
    if (const auto* v = want.if_contains("next_timer")) {
        if (v->is_null()) {
            EXPECT_FALSE(got.next_timer.has_value())
                << "next timer " << Name(got.next_timer->kind) << " at " << Show(got.next_timer->at);
        } else {
            ASSERT_TRUE(got.next_timer.has_value()) << "next_timer";
            const auto& t = v->as_object();
            EXPECT_EQ(std::string(t.at("kind").as_string()), Name(got.next_timer->kind));
            EXPECT_EQ(Show(Instant(t.at("at"))), Show(got.next_timer->at));
            if (const auto* m = t.if_contains("metric")) {
                EXPECT_EQ(std::string(m->as_string()), Name(got.next_timer->metric));
            }
        }
    }
    if (const auto* v = want.if_contains("decisions")) {
        std::vector<std::string> expected;
        std::vector<std::string> actual;
        const auto& list = v->as_array();
        for (const auto& d : list) {
            expected.push_back(ExpectedText(d.as_object()));
        }
        for (std::size_t i = 0; i < got.decisions.size(); ++i) {
            const bj::object empty;
            const bj::object& shape = i < list.size() ? list[i].as_object() : empty;
            actual.push_back(DecisionText(shape, got.decisions[i]));
            EXPECT_FALSE(got.decisions[i].Key(ticket).empty());
        }
        EXPECT_EQ(expected, actual);
    }
}

class Scenario : public ::testing::TestWithParam<std::string> {};

TEST_P(Scenario, FoldMatchesTheHandComputedExpectations) {
    auto doc = json::ParseFile(GetParam());
    ASSERT_TRUE(doc.has_value()) << doc.error();
    const bj::object& s = doc->as_object();
    auto loaded = LoadPolicy(s.at("policy"));
    ASSERT_TRUE(loaded.has_value()) << loaded.error();
    const std::int64_t ticket = s.contains("ticket") ? s.at("ticket").as_int64() : 1;

    Ledger ledger(ticket);
    std::int64_t seq = 0;
    for (const auto& e : s.at("events").as_array()) {
        auto appended = ledger.Append(ToEvent(e.as_object(), ++seq));
        ASSERT_TRUE(appended.has_value()) << appended.error();
    }
    const auto& checks = s.at("checks").as_array();
    ASSERT_FALSE(checks.empty()) << "a scenario must check something";
    for (std::size_t i = 0; i < checks.size(); ++i) {
        const auto& want = checks[i].as_object();
        const TimeMs now = Instant(want.at("at"));
        std::string where = "check " + std::to_string(i) + " at " + Show(now);
        if (const auto* note = want.if_contains("note")) {
            where += " (" + std::string(note->as_string()) + ")";
        }
        auto folded = Fold(loaded->config.policy, loaded->calendars, ledger, now);
        ASSERT_TRUE(folded.has_value()) << where << ": " << folded.error();
        RunCheck(where, want, *folded, ticket);
    }
}

std::string ScenarioName(const ::testing::TestParamInfo<std::string>& info) {
    std::string name = std::filesystem::path(info.param).stem().string();
    std::replace_if(name.begin(), name.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
    return name;
}

INSTANTIATE_TEST_SUITE_P(Sla, Scenario, ::testing::ValuesIn(ScenarioFiles()), ScenarioName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Scenario);

}  // namespace
}  // namespace dispatch::sla
