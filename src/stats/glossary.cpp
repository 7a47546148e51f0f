#include "stats/glossary.hpp"

namespace dispatch::stats {

const std::vector<GlossaryEntry>& Glossary() {
    // Kept in step with kpi.hpp (where and for whom each fact counts) and sla/fold.hpp (the clocks).
    static const std::vector<GlossaryEntry> kGlossary{
        {"period",
         "Period",
         "Months and years start at local midnight in the portal's time zone (the zone of the help desk's "
         "calendar). A range given as from/to covers whole local days, months or years, both ends included."},
        {"created", "Requests created", "Requests created in the period, whatever became of them (arrivals)."},
        {"auto_closed",
         "Auto-closed",
         "Requests filed without a template and closed automatically with an explanation. They count in intake "
         "(created, arrivals) only, never in SLA figures."},
        {"cancelled",
         "Cancelled",
         "Requests created in the period that were rejected or deleted (not auto-closed). Their open clocks are "
         "excluded from SLA figures."},
        {"closed",
         "Closed",
         "Requests resolved in the period: they last entered Awaiting review or Done in it. A return reopens a "
         "request; it counts as closed again when next resolved."},
        {"reaction",
         "Reaction time",
         "From creation until the request first left New for a working stage with an assignee. Counted in the "
         "period when the reaction happened; waiting time is not subtracted."},
        {"resolution",
         "Resolution time",
         "From creation until the request last entered Awaiting review or Done, minus time in Waiting for "
         "requester and minus review periods that ended in a return. One figure per request, counted in the "
         "period when it was closed."},
        {"business",
         "Business minutes",
         "Minutes while the help desk's calendar was open (working hours, holidays excluded), pauses excluded."},
        {"calendar", "Calendar minutes", "Wall-clock minutes, pauses excluded."},
        {"median", "Median", "The middle value: half of the requests took less. With two values, their mean."},
        {"p90",
         "90th percentile",
         "90% of the requests took less. Interpolated linearly between the two closest values (as Excel's "
         "PERCENTILE.INC): with two values a and b it is a + 0.9 × (b − a); with one value, that value."},
        {"mean", "Mean", "The arithmetic average."},
        {"target_median", "Target", "The median SLA target of the same requests, in business minutes."},
        {"on_time_percent",
         "% on time",
         "Met ÷ (met + breached). A clock is met when it stopped by its deadline and counts in the period when it "
         "stopped; it is breached once its deadline passes (stopped late or still open) and counts in the period of "
         "the deadline. Cancelled requests and auto-closed ones are excluded."},
        {"returns",
         "Returns",
         "Moves from Awaiting review or Done back to work, counted when they happen and attributed to the person "
         "who had resolved the request and to their line."},
        {"deliveries",
         "Deliveries",
         "Resolutions handed to the requester (each resolution cycle that entered Awaiting review or Done), "
         "attributed to the resolver."},
        {"return_rate_percent", "Return rate", "Returns ÷ deliveries in the same period and scope."},
        {"auto_accepted_percent",
         "Auto-accepted share",
         "Of the requests closed in the period, the share accepted automatically because the requester neither "
         "accepted nor returned them within the review window."},
        {"paused_minutes",
         "Time paused",
         "Calendar minutes that requests spent in Waiting for requester within the period (split across periods "
         "by the pauses themselves)."},
        {"open_at_end",
         "Open at period end",
         "Requests open (not resolved, not cancelled) at the end of the period, or now for the current period. "
         "Per assignee: the person who later resolved that cycle, or the current assignee while still open."},
        {"load",
         "Load",
         "Requests open at the end of the range (now, when the range runs past now) per assignee, attributed as "
         "open at period end; they add up to the range's open at period end."},
        {"arrivals",
         "Arrivals",
         "Requests created in the range by local hour of day and weekday (the portal's time zone)."},
        {"attribution",
         "Assignee and line",
         "Returns, deliveries, closed requests and their resolution times count for the resolver and their line; "
         "other figures for the request's current assignee and line. Template and priority are the request's "
         "current ones. Filters select by the same rule."},
    };
    return kGlossary;
}

}  // namespace dispatch::stats
