#pragma once
// Small ledgers for the stats tests, folded through the real engine (sla::Fold) on a hand-made policy: calendar
// "biz" is Mon-Fri 09:00-18:00 Europe/Moscow (UTC+3 all year, no holidays), so every expectation can be worked
// out by hand in local time. Targets (business time): urgent 20 min / 4 h, high 1 h / 6 h, normal 2 h / 8 h,
// low 4 h / 16 h (reaction / resolution).

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/time_format.hpp"
#include "sla/fold.hpp"
#include "sla/ledger.hpp"
#include "sla/policy.hpp"
#include "stats/kpi.hpp"
#include "stats/zone.hpp"

namespace dispatch::stats::testing {

// "2026-03-02 10:00" in Moscow time.
inline TimeMs Msk(const std::string& local) {
    return ParseIso8601(local.substr(0, 10) + "T" + local.substr(11) + ":00+03:00").value();
}

class Ticket {
public:
    Ticket(std::int64_t id, const std::string& created, sla::Priority priority, std::string template_name, int line = 1)
        : ledger_(id) {
        Add(sla::Event::Created(Msk(created), Seq(), priority, std::move(template_name), sla::StageRole::kNew, line));
    }

    // Assigned and moved to in_progress at the same instant: the reaction.
    Ticket& Take(const std::string& at, std::int64_t assignee, int line = 1) {
        Assign(at, assignee);
        return Move(at, sla::StageRole::kInProgress, line);
    }
    Ticket& Assign(const std::string& at, std::int64_t assignee) {
        return Add(sla::Event::Assigned(Msk(at), Seq(), assignee));
    }
    Ticket& Move(const std::string& at, sla::StageRole stage, int line = 1) {
        return Add(sla::Event::StageMoved(Msk(at), Seq(), stage, line));
    }
    Ticket& AutoClose(const std::string& at) {
        Add(sla::Event::Simple(Msk(at), Seq(), sla::EventKind::kAutoClosed));
        return Move(at, sla::StageRole::kRejected);
    }
    Ticket& Accept(const std::string& at) {
        Add(sla::Event::Simple(Msk(at), Seq(), sla::EventKind::kAccepted));
        return Move(at, sla::StageRole::kDone);
    }
    Ticket& AutoAccept(const std::string& at, int cycle) {
        Add(sla::Event::Record(Msk(at), Seq(), sla::EventKind::kAutoAccepted, sla::Metric::kResolution, cycle, 0));
        return Move(at, sla::StageRole::kDone);
    }
    Ticket& Delete(const std::string& at) { return Add(sla::Event::Simple(Msk(at), Seq(), sla::EventKind::kDeleted)); }

    const sla::Ledger& Ledger() const { return ledger_; }

private:
    std::int64_t Seq() { return ++seq_; }
    Ticket& Add(sla::Event e) {
        const auto appended = ledger_.Append(std::move(e));
        EXPECT_TRUE(appended.has_value()) << appended.error();
        return *this;
    }

    sla::Ledger ledger_;
    std::int64_t seq_ = 0;
};

sla::Policy TestPolicy();
sla::CalendarSet TestCalendars();

// Folds every ticket at `now` (Moscow local "2026-04-01 12:00").
std::vector<sla::FoldResult> FoldAll(const sla::Policy& policy,
                                     const sla::CalendarSet& calendars,
                                     const std::vector<Ticket>& tickets,
                                     const std::string& now);

// A query over local bounds ("2026-03", "2026-03-15", "2026") grouped by `group_by` ("month,assignee").
Query MakeQuery(const Zone& zone,
                const std::string& from,
                const std::string& to,
                const std::string& group_by,
                const std::string& now);

// The row of `period` whose dimensions match those given (unset: not compared); nullptr when absent.
const Row* FindRow(const Report& report,
                   const std::string& period,
                   std::optional<std::int64_t> assignee = {},
                   std::optional<int> line = {},
                   std::optional<std::string> template_name = {},
                   std::optional<sla::Priority> priority = {});

}  // namespace dispatch::stats::testing
