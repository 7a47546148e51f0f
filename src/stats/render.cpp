#include "stats/render.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cmath>
#include <functional>
#include <utility>

#include "stats/glossary.hpp"

namespace dispatch::stats {
namespace {

namespace bj = boost::json;

// Boost.JSON 1.81 prints doubles as "1.25E1"; people read this API, so numbers print in their shortest round-trip
// form instead.
void Write(const bj::value& v, std::string& out) {
    switch (v.kind()) {
        case bj::kind::null:
            out += "null";
            return;
        case bj::kind::bool_:
            out += v.get_bool() ? "true" : "false";
            return;
        case bj::kind::int64:
            fmt::format_to(std::back_inserter(out), "{}", v.get_int64());
            return;
        case bj::kind::uint64:
            fmt::format_to(std::back_inserter(out), "{}", v.get_uint64());
            return;
        case bj::kind::double_:
            if (std::isfinite(v.get_double())) {
                fmt::format_to(std::back_inserter(out), "{}", v.get_double());
            } else {
                out += "null";
            }
            return;
        case bj::kind::string:
            out += bj::serialize(v.get_string());
            return;
        case bj::kind::array: {
            out += '[';
            bool first = true;
            for (const bj::value& e : v.get_array()) {
                if (!first) {
                    out += ',';
                }
                first = false;
                Write(e, out);
            }
            out += ']';
            return;
        }
        case bj::kind::object: {
            out += '{';
            bool first = true;
            for (const auto& kv : v.get_object()) {
                if (!first) {
                    out += ',';
                }
                first = false;
                out += bj::serialize(bj::string(kv.key()));
                out += ':';
                Write(kv.value(), out);
            }
            out += '}';
            return;
        }
    }
}

std::string Serialize(const bj::value& v) {
    std::string out;
    Write(v, out);
    return out;
}

bj::value Opt(const std::optional<double>& v) { return v ? bj::value(*v) : bj::value(nullptr); }

bj::object SummaryJson(const Summary& s) {
    return bj::object{{"count", s.count}, {"median", Opt(s.median)}, {"p90", Opt(s.p90)}, {"mean", Opt(s.mean)}};
}

bj::object ClockJson(const ClockKpis& c) {
    return bj::object{{"business", SummaryJson(c.business)},
                      {"calendar", SummaryJson(c.calendar)},
                      {"target_median", Opt(c.target_median)},
                      {"met", c.met},
                      {"breached", c.breached},
                      {"on_time_percent", Opt(c.on_time_percent)}};
}

bj::object KpisJson(const Kpis& k) {
    return bj::object{{"created", k.created},
                      {"closed", k.closed},
                      {"auto_closed", k.auto_closed},
                      {"cancelled", k.cancelled},
                      {"reaction", ClockJson(k.reaction)},
                      {"resolution", ClockJson(k.resolution)},
                      {"returns", k.returns},
                      {"deliveries", k.deliveries},
                      {"return_rate_percent", Opt(k.return_rate_percent)},
                      {"auto_accepted", k.auto_accepted},
                      {"auto_accepted_percent", Opt(k.auto_accepted_percent)},
                      {"paused_minutes", k.paused_minutes},
                      {"open_at_end", k.open_at_end}};
}

bj::object TargetJson(const sla::Target& t) {
    return bj::object{{"amount", t.amount},
                      {"unit", std::string(sla::Name(t.unit))},
                      {"end_of_day", t.end_of_day},
                      {"calendar", t.calendar}};
}

template <std::size_t N>
bj::array Counts(const std::array<std::int64_t, N>& counts) {
    bj::array out;
    for (std::int64_t c : counts) {
        out.emplace_back(c);
    }
    return out;
}

std::string Num(double v) { return fmt::format("{}", v); }
std::string Num(std::int64_t v) { return std::to_string(v); }
std::string Num(const std::optional<double>& v) { return v ? Num(*v) : std::string(); }

using Column = std::pair<std::string, std::function<std::string(const Kpis&)>>;

void AddClockColumns(std::vector<Column>& cols, const std::string& prefix, ClockKpis Kpis::*clock) {
    const auto get = [clock](auto field) { return [clock, field](const Kpis& k) { return Num(field(k.*clock)); }; };
    cols.emplace_back(prefix + "_count", get([](const ClockKpis& c) { return c.business.count; }));
    cols.emplace_back(prefix + "_business_median", get([](const ClockKpis& c) { return c.business.median; }));
    cols.emplace_back(prefix + "_business_p90", get([](const ClockKpis& c) { return c.business.p90; }));
    cols.emplace_back(prefix + "_business_mean", get([](const ClockKpis& c) { return c.business.mean; }));
    cols.emplace_back(prefix + "_calendar_median", get([](const ClockKpis& c) { return c.calendar.median; }));
    cols.emplace_back(prefix + "_calendar_p90", get([](const ClockKpis& c) { return c.calendar.p90; }));
    cols.emplace_back(prefix + "_calendar_mean", get([](const ClockKpis& c) { return c.calendar.mean; }));
    cols.emplace_back(prefix + "_target_median", get([](const ClockKpis& c) { return c.target_median; }));
    cols.emplace_back(prefix + "_met", get([](const ClockKpis& c) { return c.met; }));
    cols.emplace_back(prefix + "_breached", get([](const ClockKpis& c) { return c.breached; }));
    cols.emplace_back(prefix + "_on_time_percent", get([](const ClockKpis& c) { return c.on_time_percent; }));
}

const std::vector<Column>& KpiColumns() {
    static const std::vector<Column> kColumns = [] {
        std::vector<Column> cols;
        cols.emplace_back("created", [](const Kpis& k) { return Num(k.created); });
        cols.emplace_back("closed", [](const Kpis& k) { return Num(k.closed); });
        cols.emplace_back("auto_closed", [](const Kpis& k) { return Num(k.auto_closed); });
        cols.emplace_back("cancelled", [](const Kpis& k) { return Num(k.cancelled); });
        AddClockColumns(cols, "reaction", &Kpis::reaction);
        AddClockColumns(cols, "resolution", &Kpis::resolution);
        cols.emplace_back("returns", [](const Kpis& k) { return Num(k.returns); });
        cols.emplace_back("deliveries", [](const Kpis& k) { return Num(k.deliveries); });
        cols.emplace_back("return_rate_percent", [](const Kpis& k) { return Num(k.return_rate_percent); });
        cols.emplace_back("auto_accepted", [](const Kpis& k) { return Num(k.auto_accepted); });
        cols.emplace_back("auto_accepted_percent", [](const Kpis& k) { return Num(k.auto_accepted_percent); });
        cols.emplace_back("paused_minutes", [](const Kpis& k) { return Num(k.paused_minutes); });
        cols.emplace_back("open_at_end", [](const Kpis& k) { return Num(k.open_at_end); });
        return cols;
    }();
    return kColumns;
}

std::string CsvField(std::string_view text) {
    std::string value(text);
    if (!value.empty() && (value[0] == '=' || value[0] == '+' || value[0] == '-' || value[0] == '@')) {
        value.insert(value.begin(), '\'');  // OWASP CSV injection: keep spreadsheets from evaluating it
    }
    if (value.find_first_of(",\"\r\n") == std::string::npos) {
        return value;
    }
    std::string quoted = "\"";
    for (char c : value) {
        if (c == '"') {
            quoted += '"';
        }
        quoted += c;
    }
    quoted += '"';
    return quoted;
}

std::string DimensionValue(const Row& row, Dimension d) {
    switch (d) {
        case Dimension::kAssignee:
            return row.assignee ? std::to_string(*row.assignee) : std::string();
        case Dimension::kLine:
            return row.line ? std::to_string(*row.line) : std::string();
        case Dimension::kTemplate:
            return row.template_name.value_or(std::string());
        case Dimension::kPriority:
            return row.priority ? std::string(sla::Name(*row.priority)) : std::string();
    }
    return {};
}

bj::value KpiValueJson(const KpiValue& v) {
    if (const auto* i = std::get_if<std::int64_t>(&v)) {
        return *i;
    }
    if (const auto* d = std::get_if<double>(&v)) {
        return *d;
    }
    if (const auto* s = std::get_if<std::string>(&v)) {
        return bj::string(*s);
    }
    return nullptr;
}

}  // namespace

std::string RenderJson(const Report& report, const Zone& zone) {
    const Query& q = report.query;
    bj::object out;
    out["zone"] = zone.Name();
    out["from"] = FormatLocalIso(zone, q.from);
    out["to"] = FormatLocalIso(zone, q.to);
    out["now"] = FormatLocalIso(zone, q.now);
    bj::array dims;
    for (Dimension d : q.group_by.dimensions) {
        dims.emplace_back(std::string(Name(d)));
    }
    out["group_by"] = bj::object{{"period", std::string(Name(q.group_by.period))}, {"dimensions", std::move(dims)}};
    bj::object filter;
    if (q.filter.assignee) {
        filter["assignee"] = *q.filter.assignee;
    }
    if (q.filter.line) {
        filter["line"] = *q.filter.line;
    }
    if (q.filter.template_name) {
        filter["template"] = *q.filter.template_name;
    }
    if (q.filter.priority) {
        filter["priority"] = std::string(sla::Name(*q.filter.priority));
    }
    out["filter"] = std::move(filter);

    bj::array rows;
    for (const Row& row : report.rows) {
        bj::object r;
        r["period"] = row.period;
        r["from"] = FormatLocalIso(zone, row.period_from);
        r["to"] = FormatLocalIso(zone, row.period_to);
        if (row.assignee) {
            r["assignee"] = *row.assignee;
        }
        if (row.line) {
            r["line"] = *row.line;
        }
        if (row.template_name) {
            r["template"] = *row.template_name;
        }
        if (row.priority) {
            r["priority"] = std::string(sla::Name(*row.priority));
        }
        r["kpis"] = KpisJson(row.kpis);
        rows.emplace_back(std::move(r));
    }
    out["rows"] = std::move(rows);
    out["totals"] = KpisJson(report.totals);

    bj::array heat;
    for (const auto& day : report.arrivals.by_weekday_hour) {
        heat.emplace_back(Counts(day));
    }
    out["arrivals"] = bj::object{{"by_hour", Counts(report.arrivals.by_hour)},
                                 {"by_weekday", Counts(report.arrivals.by_weekday)},
                                 {"by_weekday_hour", std::move(heat)}};
    bj::array load;
    for (const AssigneeLoad& l : report.load) {
        load.emplace_back(bj::object{{"assignee", l.assignee}, {"open", l.open}});
    }
    out["load"] = bj::object{{"at", FormatLocalIso(zone, report.load_at)}, {"by_assignee", std::move(load)}};

    bj::array targets;
    for (const sla::TargetRule& rule : report.targets) {
        bj::object t{{"priority", std::string(sla::Name(rule.priority))},
                     {"template", rule.template_name},
                     {"reaction", TargetJson(rule.reaction)},
                     {"resolution", TargetJson(rule.resolution)}};
        if (rule.line2_ola) {
            t["line2_ola"] = TargetJson(*rule.line2_ola);
        }
        targets.emplace_back(std::move(t));
    }
    out["targets"] = std::move(targets);
    bj::array templates;
    for (const std::string& name : report.templates) {
        templates.emplace_back(bj::string(name));
    }
    out["templates"] = std::move(templates);
    bj::array glossary;
    for (const GlossaryEntry& e : Glossary()) {
        glossary.emplace_back(bj::object{{"key", e.key}, {"title", e.title}, {"definition", e.definition}});
    }
    out["glossary"] = std::move(glossary);
    return Serialize(out);
}

std::vector<std::string> CsvHeader(const Report& report) {
    std::vector<std::string> header{"period", "from", "to"};
    for (Dimension d : report.query.group_by.dimensions) {
        header.emplace_back(Name(d));
    }
    for (const Column& c : KpiColumns()) {
        header.push_back(c.first);
    }
    return header;
}

std::string RenderCsv(const Report& report, const Zone& zone) {
    std::string out;
    const auto line = [&out](const std::vector<std::string>& fields) {
        for (std::size_t i = 0; i < fields.size(); ++i) {
            if (i > 0) {
                out += ',';
            }
            out += CsvField(fields[i]);
        }
        out += "\r\n";
    };
    line(CsvHeader(report));
    for (const Row& row : report.rows) {
        std::vector<std::string> fields{
            row.period, FormatLocalIso(zone, row.period_from), FormatLocalIso(zone, row.period_to)};
        for (Dimension d : report.query.group_by.dimensions) {
            fields.push_back(DimensionValue(row, d));
        }
        for (const Column& c : KpiColumns()) {
            fields.push_back(c.second(row.kpis));
        }
        line(fields);
    }
    return out;
}

std::string RenderKpiItems(const std::vector<KpiItem>& items) {
    bj::array out;
    for (const KpiItem& item : items) {
        bj::object fields;
        for (const auto& [code, value] : item.fields) {
            fields[code] = KpiValueJson(value);
        }
        out.emplace_back(bj::object{{"key", item.key}, {"title", item.title}, {"fields", std::move(fields)}});
    }
    return Serialize(out);
}

}  // namespace dispatch::stats
