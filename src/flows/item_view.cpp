#include "flows/item_view.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "b24/methods.hpp"
#include "core/errc.hpp"
#include "core/json.hpp"
#include "core/time_format.hpp"

namespace dispatch::flows {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::optional<TimeMs> TimeAt(const bj::object& item, std::string_view key) {
    const auto* v = item.if_contains(key);
    if (v == nullptr || !v->is_string()) {
        return std::nullopt;
    }
    auto t = ParseIso8601(v->as_string());
    if (!t) {
        return std::nullopt;
    }
    return *t;
}

std::int64_t IntField(const bj::object& item, std::string_view key) {
    const auto* v = item.if_contains(key);
    if (v == nullptr) {
        return 0;
    }
    return json::ToInt(*v).value_or(0);
}

// Enumeration values come back as an id (number or string); multiple ones as arrays (we declare none multiple, but
// a hand-edited field could be).
std::int64_t EnumValue(const bj::object& item, const std::string& name) {
    if (name.empty()) {
        return 0;
    }
    const auto* v = item.if_contains(name);
    if (v == nullptr) {
        return 0;
    }
    if (v->is_array()) {
        return v->as_array().empty() ? 0 : json::ToInt(v->as_array().front()).value_or(0);
    }
    return json::ToInt(*v).value_or(0);
}

std::string Iso(TimeMs t) { return FormatIso8601(t / 1000 * 1000); }

// Numbers to the two decimals Bitrix24 keeps for a double field (and that the KPI items carry): 45 and 45.0 alike,
// 45.5 apart from 45.9.
std::string CanonicalNumber(double d) {
    const double rounded = std::round(d * 100.0) / 100.0;
    if (rounded == std::trunc(rounded) && std::abs(rounded) < 9e15) {
        return std::to_string(static_cast<std::int64_t>(rounded));
    }
    std::string text = fmt::format("{:.2f}", rounded);
    while (text.back() == '0') {
        text.pop_back();
    }
    return text;
}

// Normalises a value for comparison with what we would write: the text Bitrix24 keeps.
std::string Canonical(const bj::value& v) {
    if (v.is_null()) {
        return "";
    }
    if (v.is_bool()) {
        return v.get_bool() ? "Y" : "N";
    }
    if (v.is_int64() || v.is_uint64()) {
        return std::to_string(json::ToInt(v).value_or(0));
    }
    if (v.is_double()) {
        return CanonicalNumber(v.get_double());
    }
    if (v.is_string()) {
        std::string_view s = v.get_string();
        if (s == "1" || s == "true") {
            return "Y";
        }
        if (s == "0" || s == "false") {
            return "N";
        }
        // Dates: Bitrix24 answers in the portal's offset; compare instants.
        if (s.size() >= 19 && s[4] == '-' && s[10] == 'T') {
            if (auto t = ParseIso8601(s)) {
                return "t" + std::to_string(*t / 1000);
            }
        }
        // A double field may come back as text ("45.50").
        if (!s.empty() && s.find('.') != std::string_view::npos &&
            s.find_first_not_of("-0123456789.") == std::string_view::npos) {
            char* end = nullptr;
            const std::string text(s);
            const double d = std::strtod(text.c_str(), &end);
            if (end == text.c_str() + text.size()) {
                return CanonicalNumber(d);
            }
        }
        return std::string(s);
    }
    if (v.is_array()) {
        return v.as_array().empty() ? "" : Canonical(v.as_array().front());
    }
    return json::Dump(v);
}

}  // namespace

sla::StageRole ToSla(provision::StageRole role) {
    switch (role) {
        case provision::StageRole::kNew:
            return sla::StageRole::kNew;
        case provision::StageRole::kQueued:
            return sla::StageRole::kQueued;
        case provision::StageRole::kInProgress:
            return sla::StageRole::kInProgress;
        case provision::StageRole::kWaiting:
            return sla::StageRole::kWaiting;
        case provision::StageRole::kReview:
            return sla::StageRole::kReview;
        case provision::StageRole::kDone:
            return sla::StageRole::kDone;
        case provision::StageRole::kRejected:
            return sla::StageRole::kRejected;
    }
    return sla::StageRole::kNew;
}

provision::StageRole ToProvision(sla::StageRole role) {
    switch (role) {
        case sla::StageRole::kNew:
            return provision::StageRole::kNew;
        case sla::StageRole::kQueued:
            return provision::StageRole::kQueued;
        case sla::StageRole::kInProgress:
            return provision::StageRole::kInProgress;
        case sla::StageRole::kWaiting:
            return provision::StageRole::kWaiting;
        case sla::StageRole::kReview:
            return provision::StageRole::kReview;
        case sla::StageRole::kDone:
            return provision::StageRole::kDone;
        case sla::StageRole::kRejected:
            return provision::StageRole::kRejected;
    }
    return provision::StageRole::kNew;
}

int LineOfFunnel(std::string_view funnel_code) {
    if (funnel_code == kLine1Funnel) {
        return 1;
    }
    if (funnel_code == kLine2Funnel) {
        return 2;
    }
    return 0;
}

StagePlace PlaceOf(const provision::ProcessIds& ids, std::string_view status_id, std::int64_t category_id) {
    StagePlace place;
    const provision::FunnelIds* funnel = nullptr;
    if (const auto* s = ids.StageByStatusId(status_id, &funnel); s != nullptr) {
        place.role = ToSla(s->role);
        place.known = true;
    }
    if (funnel == nullptr) {
        funnel = ids.FunnelByCategory(category_id);
    }
    if (funnel != nullptr) {
        place.funnel = funnel->code;
        place.line = LineOfFunnel(funnel->code);
    }
    return place;
}

std::string ItemFieldName(const provision::ProcessIds& ids, std::string_view code) {
    const auto* field = ids.FindField(code);
    return field == nullptr ? std::string() : b24::UfCamelName(field->uf_name);
}

Result<ItemView> ReadItem(const bj::object& item, const provision::ProcessIds& ids, const sla::Policy& policy) {
    ItemView view;
    view.id = IntField(item, "id");
    const auto* stage = item.if_contains("stageId");
    auto created = TimeAt(item, "createdTime");
    if (view.id <= 0 || stage == nullptr || !stage->is_string() || !created) {
        return Fail(CoreErrc::kInvalid, "item lacks id, stageId or createdTime");
    }
    view.stage_id = std::string(stage->as_string());
    view.category_id = IntField(item, "categoryId");
    view.created_time = *created;
    view.updated_time = TimeAt(item, "updatedTime").value_or(view.created_time);
    view.created_by = IntField(item, "createdBy");
    view.assigned_by_id = IntField(item, "assignedById");
    view.assignee = view.assigned_by_id == view.created_by ? 0 : view.assigned_by_id;

    const StagePlace place = PlaceOf(ids, view.stage_id, view.category_id);
    view.known_stage = place.known;
    view.role = place.role;
    view.funnel = std::string(place.funnel);
    view.line = place.line;

    const std::string priority_xml = ids.EnumXmlId(
        provision::field_codes::kPriority, EnumValue(item, ItemFieldName(ids, provision::field_codes::kPriority)));
    std::string lower;
    for (char c : priority_xml) {
        lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    view.priority = sla::ParsePriority(lower).value_or(sla::Priority::kNormal);

    const std::string template_xml = ids.EnumXmlId(
        provision::field_codes::kTemplate, EnumValue(item, ItemFieldName(ids, provision::field_codes::kTemplate)));
    if (!template_xml.empty()) {
        view.template_name = template_xml;
        for (const auto& name : policy.templates) {
            if (EqualsIgnoreCase(name, template_xml)) {
                view.template_name = name;
                break;
            }
        }
    }

    for (const auto& field : ids.fields) {
        const std::string name = b24::UfCamelName(field.uf_name);
        if (field.code.rfind("SLA_", 0) == 0) {
            if (const auto* v = item.if_contains(name)) {
                view.service_fields[name] = *v;
            } else {
                view.service_fields[name] = nullptr;
            }
        }
    }
    return view;
}

bj::object WriteBackFields(const sla::FoldResult& fold, const provision::ProcessIds& ids, bool warned) {
    namespace fc = provision::field_codes;
    bj::object out;
    auto put = [&](std::string_view code, bj::value value) {
        const std::string name = ItemFieldName(ids, code);
        if (!name.empty()) {
            out[name] = std::move(value);
        }
    };
    auto put_enum = [&](std::string_view code, std::string_view xml_id) {
        const auto id = ids.EnumId(code, xml_id);
        if (id != 0) {
            put(code, id);
        }
    };

    const bool counted = fold.counts_in_sla && !fold.cancelled;
    if (fold.reaction.deadline) {
        put(fc::kReactionDue, bj::value(Iso(*fold.reaction.deadline)));
    }
    if (fold.resolution.deadline) {
        put(fc::kResolutionDue, bj::value(Iso(*fold.resolution.deadline)));
    }

    std::string_view state = "RUNNING";
    const auto& r = fold.reaction;
    const auto& s = fold.resolution;
    if (!counted) {
        state = "NOT_COUNTED";
    } else if (r.state == sla::ClockState::kBreached || s.state == sla::ClockState::kBreached ||
               (fold.line2_ola && fold.line2_ola->state == sla::ClockState::kBreached && fold.line2_ola->Open())) {
        state = "BREACHED";
    } else if (s.state == sla::ClockState::kPaused) {
        state = "PAUSED";
    } else if (!s.Open() && !r.Open()) {
        state = "MET";
    } else if (warned) {
        state = "WARNING";
    }
    put_enum(fc::kSlaState, state);
    put(fc::kEscalationLevel, fold.escalation_level);
    put_enum(fc::kLine, fold.line == 2 ? "LINE2" : "LINE1");
    put(fc::kReturns, static_cast<std::int64_t>(fold.returns.size()));
    if (r.stop) {
        put(fc::kReactionMinutes, r.elapsed_business_ms / kMinuteMs);
        put(fc::kReactionOnTime, r.state == sla::ClockState::kMet ? "Y" : "N");
    }
    const auto& total = fold.resolution_total;
    if (total.stop && counted) {
        put(fc::kResolutionMinutes, total.elapsed_business_ms / kMinuteMs);
        put(fc::kResolutionOnTime, total.state == sla::ClockState::kMet ? "Y" : "N");
    }
    put(fc::kAutoAccepted, fold.auto_accepted ? "Y" : "N");
    return out;
}

namespace {

// A date field is written as "2026-03-01" and read back as the local midnight "2026-03-01T00:00:00+03:00": the same
// calendar day.
bool SameDate(const bj::value& wanted, const bj::value& have) {
    if (!wanted.is_string() || !have.is_string()) {
        return false;
    }
    const std::string_view day = wanted.get_string();
    const std::string_view stored = have.get_string();
    return day.size() == 10 && day[4] == '-' && day[7] == '-' && stored.size() > 10 && stored[10] == 'T' &&
           stored.substr(0, 10) == day;
}

}  // namespace

bj::object ChangedFields(const bj::object& wanted, const bj::object& current) {
    bj::object changed;
    for (const auto& [name, value] : wanted) {
        const auto* have = current.if_contains(name);
        if (have == nullptr || (!SameDate(value, *have) && Canonical(*have) != Canonical(value))) {
            changed[name] = value;
        }
    }
    return changed;
}

}  // namespace dispatch::flows
