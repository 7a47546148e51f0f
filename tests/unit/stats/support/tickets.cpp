#include "support/tickets.hpp"

namespace dispatch::stats::testing {

sla::Policy TestPolicy() {
    const auto hours = [](std::int64_t h) { return sla::Target{h, sla::TargetUnit::kHours, false, "biz"}; };
    const auto minutes = [](std::int64_t m) { return sla::Target{m, sla::TargetUnit::kMinutes, false, "biz"}; };
    sla::Policy p;
    p.templates = {"Hardware", "Access"};
    p.targets = {
        sla::TargetRule{sla::Priority::kUrgent, "", minutes(20), hours(4), std::nullopt},
        sla::TargetRule{sla::Priority::kHigh, "", hours(1), hours(6), std::nullopt},
        sla::TargetRule{sla::Priority::kNormal, "", hours(2), hours(8), std::nullopt},
        sla::TargetRule{sla::Priority::kLow, "", hours(4), hours(16), std::nullopt},
    };
    p.acceptance = sla::Acceptance{3, true, "biz", 1};
    p.auto_close.comment = "choose a template";
    return p;
}

sla::CalendarSet TestCalendars() {
    sla::CalendarSpec spec;
    spec.id = "biz";
    spec.zone = "Europe/Moscow";
    for (int day = 0; day < 5; ++day) {
        spec.week[day] = {sla::DayRange{9 * 3600, 18 * 3600}};
    }
    sla::CalendarSet set;
    auto compiled = sla::Calendar::Compile(spec, 2025, 2027);
    EXPECT_TRUE(compiled.has_value());
    if (compiled) {
        set.Add(*compiled);
    }
    return set;
}

std::vector<sla::FoldResult> FoldAll(const sla::Policy& policy,
                                     const sla::CalendarSet& calendars,
                                     const std::vector<Ticket>& tickets,
                                     const std::string& now) {
    std::vector<sla::FoldResult> out;
    for (const Ticket& t : tickets) {
        auto folded = sla::Fold(policy, calendars, t.Ledger(), Msk(now));
        EXPECT_TRUE(folded.has_value()) << folded.error();
        if (folded) {
            out.push_back(std::move(*folded));
        }
    }
    return out;
}

Query MakeQuery(const Zone& zone,
                const std::string& from,
                const std::string& to,
                const std::string& group_by,
                const std::string& now) {
    Query q;
    q.from = ParseRangeStart(from, zone).value();
    q.to = ParseRangeEnd(to, zone).value();
    q.group_by = ParseGroupBy(group_by).value();
    q.now = Msk(now);
    return q;
}

const Row* FindRow(const Report& report,
                   const std::string& period,
                   std::optional<std::int64_t> assignee,
                   std::optional<int> line,
                   std::optional<std::string> template_name,
                   std::optional<sla::Priority> priority) {
    for (const Row& row : report.rows) {
        if (row.period == period && (!assignee || row.assignee == assignee) && (!line || row.line == line) &&
            (!template_name || row.template_name == template_name) && (!priority || row.priority == priority)) {
            return &row;
        }
    }
    return nullptr;
}

}  // namespace dispatch::stats::testing
