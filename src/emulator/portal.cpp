#include "emulator/portal.hpp"

#include <algorithm>
#include <charconv>

#include "core/time_format.hpp"

namespace dispatch::emulator {

bool SpaType::Flag(const char* name) const {
    const auto* v = flags.if_contains(name);
    return v != nullptr && v->is_string() && v->get_string() == "Y";
}

Portal::Portal(PortalSettings settings, ClockControl& clock)
    : settings_(std::move(settings)),
      clock_(clock),
      rng_(settings_.seed != 0 ? settings_.seed : std::random_device{}()) {}

std::string Portal::Iso(TimeMs t) const {
    char buf[40];
    const auto n = IsoTo(t, buf);
    return std::string(buf, n);
}

std::size_t Portal::IsoTo(TimeMs t, char (&buf)[40]) const {
    // Hand-rolled rather than FormatIso8601: list pages render hundreds of these per call and this is the
    // emulator's hottest formatting (bench_emu). Same text as FormatIso8601 of the second, with the offset.
    const int offset = settings_.utc_offset_minutes;
    TimeMs local = t + static_cast<TimeMs>(offset) * kMinuteMs;
    TimeMs days = local / kDayMs;
    TimeMs rem = local % kDayMs;
    if (rem < 0) {
        rem += kDayMs;
        --days;
    }
    // civil_from_days (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
    days += 719468;
    const TimeMs era = (days >= 0 ? days : days - 146096) / 146097;
    const TimeMs doe = days - era * 146097;
    const TimeMs yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const TimeMs doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const TimeMs mp = (5 * doy + 2) / 153;
    const TimeMs day = doy - (153 * mp + 2) / 5 + 1;
    const TimeMs month = mp < 10 ? mp + 3 : mp - 9;
    const TimeMs year = yoe + era * 400 + (month <= 2 ? 1 : 0);
    const TimeMs secs = rem / kSecondMs;
    auto two = [](char* p, TimeMs v) {
        p[0] = static_cast<char>('0' + v / 10 % 10);
        p[1] = static_cast<char>('0' + v % 10);
    };
    if (year < 0 || year > 9999) {
        const auto text = FormatIso8601(t - t % kSecondMs, offset);
        const auto n = std::min(text.size(), sizeof buf);
        text.copy(buf, n);
        return n;
    }
    two(buf, year / 100);
    two(buf + 2, year % 100);
    buf[4] = '-';
    two(buf + 5, month);
    buf[7] = '-';
    two(buf + 8, day);
    buf[10] = 'T';
    two(buf + 11, secs / 3600);
    buf[13] = ':';
    two(buf + 14, secs / 60 % 60);
    buf[16] = ':';
    two(buf + 17, secs % 60);
    std::size_t n = 19;
    if (offset == 0) {
        buf[n++] = 'Z';
    } else {
        const int a = offset < 0 ? -offset : offset;
        buf[n++] = offset < 0 ? '-' : '+';
        two(buf + n, a / 60);
        buf[n + 2] = ':';
        two(buf + n + 3, a % 60);
        n += 5;
    }
    return n;
}

std::string Portal::RandomHex(std::size_t chars) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(chars);
    while (out.size() < chars) {
        auto r = rng_();
        for (int i = 0; i < 16 && out.size() < chars; ++i) {
            out.push_back(kHex[r & 0xf]);
            r >>= 4;
        }
    }
    return out;
}

std::string Portal::Domain() const {
    const auto& url = settings_.base_url;
    const auto pos = url.find("://");
    return pos == std::string::npos ? url : url.substr(pos + 3);
}

std::string Portal::ClientEndpoint() const { return settings_.base_url + "/rest/"; }

std::string Portal::ServerEndpoint() const { return settings_.base_url + "/oauth/rest/"; }

void Portal::InitializeSecrets() {
    state_.member_id = RandomHex(32);
    state_.app.client_id = "local." + RandomHex(14) + "." + RandomHex(8);
    state_.app.client_secret = RandomHex(50);
    state_.app.application_token = RandomHex(32);
    state_.app.scope = "crm,user,department,im,bizproc,placement,userfieldconfig,calendar";
    state_.webhooks.push_back(Webhook{1, RandomHex(16)});
}

SpaType* Portal::TypeById(std::int64_t id) {
    auto it = state_.types.find(id);
    return it == state_.types.end() ? nullptr : &it->second;
}

SpaType* Portal::TypeByEntityTypeId(std::int64_t entity_type_id) {
    for (auto& [id, t] : state_.types) {
        if (t.entity_type_id == entity_type_id) {
            return &t;
        }
    }
    return nullptr;
}

Category* Portal::CategoryById(std::int64_t id) {
    auto it = state_.categories.find(id);
    return it == state_.categories.end() ? nullptr : &it->second;
}

Category* Portal::DefaultCategory(std::int64_t entity_type_id) {
    for (auto& [id, c] : state_.categories) {
        if (c.entity_type_id == entity_type_id && c.is_default) {
            return &c;
        }
    }
    return nullptr;
}

std::string Portal::StageEntityId(std::int64_t entity_type_id, std::int64_t category_id) {
    return "DYNAMIC_" + std::to_string(entity_type_id) + "_STAGE_" + std::to_string(category_id);
}

std::string Portal::StagePrefix(std::int64_t entity_type_id, std::int64_t category_id) {
    return "DT" + std::to_string(entity_type_id) + "_" + std::to_string(category_id);
}

bool Portal::ParseStageEntityId(std::string_view s, std::int64_t& entity_type_id, std::int64_t& category_id) {
    constexpr std::string_view kHead = "DYNAMIC_";
    constexpr std::string_view kMid = "_STAGE_";
    if (s.substr(0, kHead.size()) != kHead) {
        return false;
    }
    s.remove_prefix(kHead.size());
    const auto mid = s.find(kMid);
    if (mid == std::string_view::npos) {
        return false;
    }
    const auto a = s.substr(0, mid);
    const auto b = s.substr(mid + kMid.size());
    auto r1 = std::from_chars(a.data(), a.data() + a.size(), entity_type_id);
    auto r2 = std::from_chars(b.data(), b.data() + b.size(), category_id);
    return r1.ec == std::errc{} && r1.ptr == a.data() + a.size() && r2.ec == std::errc{} &&
           r2.ptr == b.data() + b.size() && !a.empty() && !b.empty();
}

Category& Portal::AddCategory(std::int64_t entity_type_id, std::string name, std::int64_t sort, bool is_default) {
    if (is_default) {
        for (auto& [id, c] : state_.categories) {
            if (c.entity_type_id == entity_type_id) {
                c.is_default = false;
            }
        }
    }
    Category c;
    c.id = NextId();
    c.entity_type_id = entity_type_id;
    c.name = std::move(name);
    c.sort = sort;
    c.is_default = is_default;
    auto& stored = state_.categories[c.id] = c;
    // how-to-add-category-to-spa.md: five stages, NEW/SUCCESS/FAIL are system stages.
    struct Default {
        const char* code;
        const char* name;
        const char* semantics;
        bool system;
        const char* color;
    };
    static constexpr Default kStages[] = {{"NEW", "New", "", true, "#22B9FF"},
                                          {"PREPARATION", "Preparation", "", false, "#FFA900"},
                                          {"CLIENT", "In progress", "", false, "#2FC6F6"},
                                          {"SUCCESS", "Success", "S", true, "#7BD500"},
                                          {"FAIL", "Fail", "F", true, "#FF5752"}};
    std::int64_t stage_sort = 10;
    for (const auto& d : kStages) {
        Stage s;
        s.id = NextId();
        s.entity_id = StageEntityId(entity_type_id, stored.id);
        s.status_id = StagePrefix(entity_type_id, stored.id) + ":" + d.code;
        s.name = d.name;
        s.name_init = d.name;
        s.sort = stage_sort;
        stage_sort += 10;
        s.system = d.system;
        s.category_id = stored.id;
        s.color = d.color;
        s.semantics = d.semantics;
        state_.stages[s.id] = std::move(s);
    }
    return stored;
}

std::vector<const Stage*> Portal::StagesOf(std::int64_t entity_type_id, std::int64_t category_id) const {
    const auto entity_id = StageEntityId(entity_type_id, category_id);
    std::vector<const Stage*> out;
    for (const auto& [id, s] : state_.stages) {
        if (s.entity_id == entity_id) {
            out.push_back(&s);
        }
    }
    std::stable_sort(out.begin(), out.end(), [](const Stage* a, const Stage* b) { return a->sort < b->sort; });
    return out;
}

const Stage* Portal::StageByStatusId(std::string_view status_id) const {
    for (const auto& [id, s] : state_.stages) {
        if (s.status_id == status_id) {
            return &s;
        }
    }
    return nullptr;
}

std::vector<const UserField*> Portal::FieldsOfType(std::int64_t type_id) const {
    const auto entity_id = "CRM_" + std::to_string(type_id);
    std::vector<const UserField*> out;
    for (const auto& [id, f] : state_.user_fields) {
        if (f.entity_id == entity_id) {
            out.push_back(&f);
        }
    }
    return out;
}

bool Portal::HasItems(std::int64_t entity_type_id) const {
    auto it = state_.items.find(entity_type_id);
    return it != state_.items.end() && !it->second.empty();
}

const User* Portal::FindUser(std::int64_t id) const {
    auto it = state_.users.find(id);
    return it == state_.users.end() ? nullptr : &it->second;
}

bool Portal::IsAdmin(std::int64_t user_id) const {
    const auto* u = FindUser(user_id);
    return u != nullptr && u->admin;
}

}  // namespace dispatch::emulator
