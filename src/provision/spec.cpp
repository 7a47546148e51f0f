#include "provision/spec.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <set>

#include "core/errc.hpp"
#include "core/json.hpp"

namespace dispatch::provision {

namespace {

namespace bj = boost::json;
using json::PathIndex;
using json::PathKey;
using json::SchemaProblem;

constexpr std::array<std::pair<StageRole, std::string_view>, 7> kRoles{{
    {StageRole::kNew, "new"},
    {StageRole::kQueued, "queued"},
    {StageRole::kInProgress, "in_progress"},
    {StageRole::kWaiting, "waiting"},
    {StageRole::kReview, "review"},
    {StageRole::kDone, "done"},
    {StageRole::kRejected, "rejected"},
}};

constexpr std::array<std::pair<StageSemantics, std::string_view>, 3> kSemantics{{
    {StageSemantics::kProcess, "process"},
    {StageSemantics::kSuccess, "success"},
    {StageSemantics::kFailure, "failure"},
}};

constexpr std::array<std::pair<FieldType, std::string_view>, 14> kFieldTypes{{
    {FieldType::kString, "string"},
    {FieldType::kInteger, "integer"},
    {FieldType::kDouble, "double"},
    {FieldType::kBoolean, "boolean"},
    {FieldType::kDate, "date"},
    {FieldType::kDateTime, "datetime"},
    {FieldType::kEnumeration, "enumeration"},
    {FieldType::kEmployee, "employee"},
    {FieldType::kMoney, "money"},
    {FieldType::kUrl, "url"},
    {FieldType::kFile, "file"},
    {FieldType::kCrm, "crm"},
    {FieldType::kCrmStatus, "crm_status"},
    {FieldType::kAddress, "address"},
}};

constexpr std::array<std::pair<RobotPropertyType, std::string_view>, 9> kPropertyTypes{{
    {RobotPropertyType::kBool, "bool"},
    {RobotPropertyType::kDate, "date"},
    {RobotPropertyType::kDateTime, "datetime"},
    {RobotPropertyType::kDouble, "double"},
    {RobotPropertyType::kInt, "int"},
    {RobotPropertyType::kSelect, "select"},
    {RobotPropertyType::kString, "string"},
    {RobotPropertyType::kText, "text"},
    {RobotPropertyType::kUser, "user"},
}};

template <class E, std::size_t N>
std::string_view NameOf(const std::array<std::pair<E, std::string_view>, N>& table, E value) {
    for (const auto& [e, name] : table) {
        if (e == value) {
            return name;
        }
    }
    return "?";
}

template <class E, std::size_t N>
std::optional<E> Lookup(const std::array<std::pair<E, std::string_view>, N>& table, std::string_view text) {
    for (const auto& [e, name] : table) {
        if (name == text) {
            return e;
        }
    }
    return std::nullopt;
}

// The document has passed the schema, so shapes are known; these accessors still never throw, because the schema
// file is data too and may be looser than this code assumes. A value of the wrong shape becomes a problem.
class Reader {
public:
    explicit Reader(std::vector<SchemaProblem>& problems) : problems_(problems) {}

    std::string String(const bj::object& o, std::string_view key, const std::string& path) {
        const auto* v = o.if_contains(key);
        if (v == nullptr || !v->is_string()) {
            Problem(path, fmt::format("'{}' must be a string", key));
            return {};
        }
        return std::string(v->get_string());
    }

    bool Bool(const bj::object& o, std::string_view key, bool fallback) {
        const auto* v = o.if_contains(key);
        return v != nullptr && v->is_bool() ? v->get_bool() : fallback;
    }

    int Int(const bj::object& o, std::string_view key, int fallback) {
        const auto* v = o.if_contains(key);
        if (v == nullptr) {
            return fallback;
        }
        const auto n = json::ToInt(*v);
        return n && !v->is_string() ? static_cast<int>(*n) : fallback;
    }

    const bj::array& Array(const bj::object& o, std::string_view key) {
        static const bj::array kEmpty;
        const auto* v = o.if_contains(key);
        return v != nullptr && v->is_array() ? v->get_array() : kEmpty;
    }

    const bj::object& Object(const bj::value& v, const std::string& path) {
        static const bj::object kEmpty;
        if (!v.is_object()) {
            Problem(path, "must be an object");
            return kEmpty;
        }
        return v.get_object();
    }

    LocalizedText Text(const bj::object& o, std::string_view key, const std::string& path) {
        LocalizedText out;
        const auto* v = o.if_contains(key);
        if (v == nullptr || !v->is_object()) {
            Problem(path, fmt::format("'{}' must be an object of texts per language", key));
            return out;
        }
        for (const auto& [lang, text] : v->get_object()) {
            if (text.is_string()) {
                out.by_language.emplace(std::string(lang), std::string(text.get_string()));
            }
        }
        if (!out.by_language.contains("en")) {
            Problem(PathKey(path, key), "an English ('en') text is required");
        }
        return out;
    }

    std::optional<LocalizedText> OptionalText(const bj::object& o, std::string_view key, const std::string& path) {
        if (!o.contains(key)) {
            return std::nullopt;
        }
        return Text(o, key, path);
    }

    void Problem(const std::string& path, std::string reason) { problems_.push_back({path, std::move(reason)}); }

private:
    std::vector<SchemaProblem>& problems_;
};

StageSpec ReadStage(Reader& r, const bj::value& v, const std::string& path) {
    const auto& o = r.Object(v, path);
    StageSpec s;
    s.code = r.String(o, "code", path);
    const auto role_text = r.String(o, "role", path);
    if (const auto role = ParseStageRole(role_text)) {
        s.role = *role;
    } else {
        r.Problem(PathKey(path, "role"), fmt::format("unknown stage role '{}'", role_text));
    }
    s.name = r.Text(o, "name", path);
    s.color = r.String(o, "color", path);
    s.sort = r.Int(o, "sort", 0);
    const auto semantics_text = r.String(o, "semantics", path);
    if (const auto semantics = ParseStageSemantics(semantics_text)) {
        s.semantics = *semantics;
    } else {
        r.Problem(PathKey(path, "semantics"), fmt::format("unknown stage semantics '{}'", semantics_text));
    }
    return s;
}

FunnelSpec ReadFunnel(Reader& r, const bj::value& v, const std::string& path) {
    const auto& o = r.Object(v, path);
    FunnelSpec f;
    f.code = r.String(o, "code", path);
    f.name = r.Text(o, "name", path);
    f.is_default = r.Bool(o, "is_default", false);
    f.sort = r.Int(o, "sort", 500);
    const auto& stages = r.Array(o, "stages");
    for (std::size_t i = 0; i < stages.size(); ++i) {
        f.stages.push_back(ReadStage(r, stages[i], PathIndex(PathKey(path, "stages"), i)));
    }
    return f;
}

FieldSpec ReadField(Reader& r, const bj::value& v, const std::string& path) {
    const auto& o = r.Object(v, path);
    FieldSpec f;
    f.code = r.String(o, "code", path);
    const auto type_text = r.String(o, "type", path);
    if (const auto type = ParseFieldType(type_text)) {
        f.type = *type;
    } else {
        r.Problem(PathKey(path, "type"), fmt::format("unknown field type '{}'", type_text));
    }
    f.label = r.Text(o, "label", path);
    f.help = r.OptionalText(o, "help", path);
    f.multiple = r.Bool(o, "multiple", false);
    f.mandatory = r.Bool(o, "mandatory", false);
    f.show_filter = r.Bool(o, "show_filter", false);
    f.searchable = r.Bool(o, "searchable", false);
    f.sort = r.Int(o, "sort", 100);
    f.written_by = r.String(o, "written_by", path) == "service" ? FieldWriter::kService : FieldWriter::kUser;
    if (const auto* settings = o.if_contains("settings"); settings != nullptr && settings->is_object()) {
        f.settings = settings->get_object();
    }
    const auto& items = r.Array(o, "items");
    for (std::size_t i = 0; i < items.size(); ++i) {
        const std::string item_path = PathIndex(PathKey(path, "items"), i);
        const auto& io = r.Object(items[i], item_path);
        f.items.push_back({r.String(io, "xml_id", item_path), r.String(io, "value", item_path), r.Int(io, "sort", 0)});
    }
    if (o.contains("default")) {
        f.default_item = r.String(o, "default", path);
    }
    return f;
}

TypeFeatures ReadFeatures(const bj::object& o) {
    TypeFeatures f;
    const std::pair<std::string_view, std::optional<bool>*> slots[] = {
        {"isCategoriesEnabled", &f.is_categories_enabled},
        {"isStagesEnabled", &f.is_stages_enabled},
        {"isBeginCloseDatesEnabled", &f.is_begin_close_dates_enabled},
        {"isClientEnabled", &f.is_client_enabled},
        {"isObserversEnabled", &f.is_observers_enabled},
        {"isAutomationEnabled", &f.is_automation_enabled},
        {"isBizProcEnabled", &f.is_biz_proc_enabled},
        {"isDocumentsEnabled", &f.is_documents_enabled},
        {"isLinkWithProductsEnabled", &f.is_link_with_products_enabled},
        {"isMycompanyEnabled", &f.is_mycompany_enabled},
        {"isRecyclebinEnabled", &f.is_recyclebin_enabled},
        {"isSourceEnabled", &f.is_source_enabled},
        {"isSetOpenPermissions", &f.is_set_open_permissions},
        {"isUseInUserfieldEnabled", &f.is_use_in_userfield_enabled},
    };
    for (const auto& [name, slot] : slots) {
        if (const auto* v = o.if_contains(name); v != nullptr && v->is_bool()) {
            *slot = v->get_bool();
        }
    }
    return f;
}

SmartProcessSpec ReadProcess(Reader& r, const bj::value& v, const std::string& path) {
    const auto& o = r.Object(v, path);
    SmartProcessSpec p;
    p.code = r.String(o, "code", path);
    p.title = r.String(o, "title", path);
    p.purpose = r.String(o, "purpose", path) == "kpi" ? ProcessPurpose::kKpi : ProcessPurpose::kRequests;
    if (const auto* features = o.if_contains("features"); features != nullptr && features->is_object()) {
        p.features = ReadFeatures(features->get_object());
    }
    p.remove_unlisted_stages = r.Bool(o, "remove_unlisted_stages", false);
    const auto& funnels = r.Array(o, "funnels");
    for (std::size_t i = 0; i < funnels.size(); ++i) {
        p.funnels.push_back(ReadFunnel(r, funnels[i], PathIndex(PathKey(path, "funnels"), i)));
    }
    const auto& fields = r.Array(o, "fields");
    for (std::size_t i = 0; i < fields.size(); ++i) {
        p.fields.push_back(ReadField(r, fields[i], PathIndex(PathKey(path, "fields"), i)));
    }
    if (const auto* layout = o.if_contains("card_layout"); layout != nullptr && layout->is_object()) {
        CardLayoutSpec card;
        const std::string layout_path = PathKey(path, "card_layout");
        const auto& sections = r.Array(layout->get_object(), "sections");
        for (std::size_t i = 0; i < sections.size(); ++i) {
            const std::string section_path = PathIndex(PathKey(layout_path, "sections"), i);
            const auto& so = r.Object(sections[i], section_path);
            CardSectionSpec section;
            section.code = r.String(so, "code", section_path);
            section.title = r.Text(so, "title", section_path);
            for (const auto& f : r.Array(so, "fields")) {
                if (f.is_string()) {
                    section.fields.emplace_back(f.get_string());
                }
            }
            card.sections.push_back(std::move(section));
        }
        p.card_layout = std::move(card);
    }
    return p;
}

RobotPropertySpec ReadProperty(Reader& r, const bj::value& v, const std::string& path) {
    const auto& o = r.Object(v, path);
    RobotPropertySpec p;
    p.code = r.String(o, "code", path);
    p.name = r.Text(o, "name", path);
    p.description = r.OptionalText(o, "description", path);
    const auto type_text = r.String(o, "type", path);
    if (const auto type = Lookup(kPropertyTypes, type_text)) {
        p.type = *type;
    } else {
        r.Problem(PathKey(path, "type"), fmt::format("unknown property type '{}'", type_text));
    }
    p.required = r.Bool(o, "required", false);
    p.multiple = r.Bool(o, "multiple", false);
    if (const auto* options = o.if_contains("options"); options != nullptr && options->is_object()) {
        for (const auto& [value, title] : options->get_object()) {
            p.options.emplace_back(std::string(value), title.is_string() ? std::string(title.get_string()) : "");
        }
    }
    if (const auto* d = o.if_contains("default")) {
        p.default_value = *d;
    }
    return p;
}

RobotSpec ReadRobot(Reader& r, const bj::value& v, const std::string& path) {
    const auto& o = r.Object(v, path);
    RobotSpec robot;
    robot.code = r.String(o, "code", path);
    robot.handler = r.String(o, "handler", path);
    robot.name = r.Text(o, "name", path);
    robot.description = r.OptionalText(o, "description", path);
    robot.process = r.String(o, "process", path);
    robot.use_subscription = r.Bool(o, "use_subscription", true);
    for (const auto* key : {"properties", "return_properties"}) {
        auto& target = std::string_view(key) == "properties" ? robot.properties : robot.return_properties;
        const auto& list = r.Array(o, key);
        for (std::size_t i = 0; i < list.size(); ++i) {
            target.push_back(ReadProperty(r, list[i], PathIndex(PathKey(path, key), i)));
        }
    }
    const auto& used_in = r.Array(o, "used_in");
    for (std::size_t i = 0; i < used_in.size(); ++i) {
        const std::string placement_path = PathIndex(PathKey(path, "used_in"), i);
        const auto& po = r.Object(used_in[i], placement_path);
        robot.used_in.push_back({r.String(po, "funnel", placement_path), r.String(po, "stage", placement_path)});
    }
    return robot;
}

WorkplaceSpec ReadSpec(Reader& r, const bj::value& doc) {
    const std::string root = "$";
    const auto& o = r.Object(doc, root);
    WorkplaceSpec spec;
    spec.version = r.Int(o, "version", 1);
    spec.language = r.String(o, "language", root);
    if (const auto* w = o.if_contains("workplace")) {
        const std::string path = PathKey(root, "workplace");
        const auto& wo = r.Object(*w, path);
        spec.workplace = {r.String(wo, "code", path), r.String(wo, "title", path)};
    }
    const auto& processes = r.Array(o, "smart_processes");
    for (std::size_t i = 0; i < processes.size(); ++i) {
        spec.smart_processes.push_back(ReadProcess(r, processes[i], PathIndex(PathKey(root, "smart_processes"), i)));
    }
    const auto& robots = r.Array(o, "robots");
    for (std::size_t i = 0; i < robots.size(); ++i) {
        spec.robots.push_back(ReadRobot(r, robots[i], PathIndex(PathKey(root, "robots"), i)));
    }
    const auto& events = r.Array(o, "events");
    for (std::size_t i = 0; i < events.size(); ++i) {
        const std::string path = PathIndex(PathKey(root, "events"), i);
        const auto& eo = r.Object(events[i], path);
        spec.events.push_back({r.String(eo, "event", path), r.String(eo, "handler", path)});
    }
    return spec;
}

// Reports the second and later holders of a code: "duplicate funnel code 'line1' (first at [0])".
template <class T, class Key>
void CheckUnique(const std::vector<T>& list,
                 Key key,
                 const std::string& list_path,
                 std::string_view what,
                 std::vector<SchemaProblem>& out) {
    std::map<std::string, std::size_t> seen;
    for (std::size_t i = 0; i < list.size(); ++i) {
        const std::string k = key(list[i]);
        const auto [it, inserted] = seen.emplace(k, i);
        if (!inserted) {
            out.push_back(
                {PathIndex(list_path, i), fmt::format("duplicate {} '{}' (first at [{}])", what, k, it->second)});
        }
    }
}

void CheckStages(const FunnelSpec& funnel, const std::string& path, std::vector<SchemaProblem>& out) {
    const std::string stages_path = PathKey(path, "stages");
    CheckUnique(
        funnel.stages, [](const StageSpec& s) { return s.code; }, stages_path, "stage code", out);

    std::size_t success = 0;
    std::size_t failure = 0;
    std::size_t process = 0;
    std::size_t news = 0;
    for (std::size_t i = 0; i < funnel.stages.size(); ++i) {
        const auto& s = funnel.stages[i];
        const std::string stage_path = PathIndex(stages_path, i);
        if (s.semantics != SemanticsOf(s.role)) {
            out.push_back({stage_path,
                           fmt::format("a '{}' stage must have semantics '{}', not '{}'",
                                       ToString(s.role),
                                       ToString(SemanticsOf(s.role)),
                                       ToString(s.semantics))});
        }
        success += s.semantics == StageSemantics::kSuccess ? 1 : 0;
        failure += s.semantics == StageSemantics::kFailure ? 1 : 0;
        process += s.semantics == StageSemantics::kProcess ? 1 : 0;
        news += s.role == StageRole::kNew ? 1 : 0;
    }
    // crm.status (CONTRACT §7.2): each funnel keeps exactly one success stage and at least one of the other groups.
    if (success != 1) {
        out.push_back({stages_path, fmt::format("a funnel needs exactly one success stage, has {}", success)});
    }
    if (failure == 0) {
        out.push_back({stages_path, "a funnel needs at least one failure stage"});
    }
    if (process == 0) {
        out.push_back({stages_path, "a funnel needs at least one in-progress stage"});
    }
    // New items land on the first stage by sort, and the engine starts the reaction clock there.
    if (news != 1) {
        out.push_back({stages_path, fmt::format("a funnel needs exactly one stage with role 'new', has {}", news)});
    } else {
        const auto first = std::min_element(funnel.stages.begin(),
                                            funnel.stages.end(),
                                            [](const StageSpec& a, const StageSpec& b) { return a.sort < b.sort; });
        const auto* new_stage = funnel.StageWithRole(StageRole::kNew);
        if (first != funnel.stages.end() && new_stage->sort > first->sort) {
            out.push_back({PathIndex(stages_path, static_cast<std::size_t>(new_stage - funnel.stages.data())),
                           fmt::format("the 'new' stage must sort first (sort {} > {} of '{}')",
                                       new_stage->sort,
                                       first->sort,
                                       first->code)});
        }
    }
    // Kanban order (CONTRACT §7.2): every in-progress stage, then the success stage, then the failure stages.
    auto rank = [](StageSemantics s) {
        return s == StageSemantics::kProcess ? 0 : s == StageSemantics::kSuccess ? 1 : 2;
    };
    for (std::size_t i = 0; i < funnel.stages.size(); ++i) {
        for (std::size_t j = 0; j < funnel.stages.size(); ++j) {
            const auto& a = funnel.stages[i];
            const auto& b = funnel.stages[j];
            if (rank(a.semantics) < rank(b.semantics) && a.sort >= b.sort) {
                out.push_back({PathIndex(stages_path, i),
                               fmt::format("{} stage '{}' (sort {}) must sort before {} stage '{}' (sort {})",
                                           ToString(a.semantics),
                                           a.code,
                                           a.sort,
                                           ToString(b.semantics),
                                           b.code,
                                           b.sort)});
                break;  // one complaint per misplaced stage
            }
        }
    }
}

void CheckFields(const SmartProcessSpec& p, const std::string& path, std::vector<SchemaProblem>& out) {
    const std::string fields_path = PathKey(path, "fields");
    CheckUnique(
        p.fields, [](const FieldSpec& f) { return f.code; }, fields_path, "field code", out);
    for (std::size_t i = 0; i < p.fields.size(); ++i) {
        const auto& f = p.fields[i];
        const std::string field_path = PathIndex(fields_path, i);
        CheckUnique(
            f.items,
            [](const EnumItemSpec& e) { return e.xml_id; },
            PathKey(field_path, "items"),
            "enumeration xml_id",
            out);
        if (f.type == FieldType::kEnumeration && f.items.empty()) {
            out.push_back({PathKey(field_path, "items"), "an enumeration needs at least one item"});
        }
        if (f.type != FieldType::kEnumeration && (!f.items.empty() || f.default_item)) {
            out.push_back({field_path, "only enumeration fields have items and a default"});
        }
        if (f.default_item && f.type == FieldType::kEnumeration && f.FindItem(*f.default_item) == nullptr) {
            out.push_back({PathKey(field_path, "default"),
                           fmt::format("default '{}' is not one of the items' xml_id", *f.default_item)});
        }
    }
    const auto& required = p.purpose == ProcessPurpose::kRequests ? RequiredRequestFields() : RequiredKpiFields();
    for (const auto& r : required) {
        const auto* f = p.FindField(r.code);
        if (f == nullptr) {
            out.push_back({fields_path, fmt::format("the service needs field '{}' ({})", r.code, ToString(r.type))});
        } else if (f->type != r.type) {
            const auto index = static_cast<std::size_t>(f - p.fields.data());
            out.push_back({PathKey(PathIndex(fields_path, index), "type"),
                           fmt::format("field '{}' must be {}, not {}", r.code, ToString(r.type), ToString(f->type))});
        } else if (f->written_by != FieldWriter::kService && r.code != field_codes::kTemplate &&
                   r.code != field_codes::kPriority) {
            const auto index = static_cast<std::size_t>(f - p.fields.data());
            out.push_back({PathKey(PathIndex(fields_path, index), "written_by"),
                           fmt::format("field '{}' is written by the service", r.code)});
        }
    }
}

void CheckProcess(const SmartProcessSpec& p, const std::string& path, std::vector<SchemaProblem>& out) {
    const std::string funnels_path = PathKey(path, "funnels");
    CheckUnique(
        p.funnels, [](const FunnelSpec& f) { return f.code; }, funnels_path, "funnel code", out);
    if (!p.funnels.empty()) {
        const auto defaults =
            std::count_if(p.funnels.begin(), p.funnels.end(), [](const FunnelSpec& f) { return f.is_default; });
        if (defaults != 1) {
            out.push_back({funnels_path, fmt::format("exactly one funnel must be the default, {} are", defaults)});
        }
        // CONTRACT §14.24: funnels and stages are only dependable with both flags on.
        const std::string features_path = PathKey(path, "features");
        if (p.features.is_categories_enabled != true) {
            out.push_back({features_path, "funnels need isCategoriesEnabled: true"});
        }
        if (p.features.is_stages_enabled != true) {
            out.push_back({features_path, "funnels need isStagesEnabled: true"});
        }
    } else if (p.purpose == ProcessPurpose::kRequests) {
        out.push_back({funnels_path, "the requests process needs at least one funnel"});
    }
    for (std::size_t i = 0; i < p.funnels.size(); ++i) {
        CheckStages(p.funnels[i], PathIndex(funnels_path, i), out);
    }
    CheckFields(p, path, out);
    if (p.card_layout) {
        const std::string sections_path = PathKey(PathKey(path, "card_layout"), "sections");
        CheckUnique(
            p.card_layout->sections,
            [](const CardSectionSpec& s) { return s.code; },
            sections_path,
            "card section code",
            out);
        for (std::size_t i = 0; i < p.card_layout->sections.size(); ++i) {
            const auto& section = p.card_layout->sections[i];
            for (std::size_t j = 0; j < section.fields.size(); ++j) {
                const auto& name = section.fields[j];
                // Upper case names are our custom fields; camelCase ones are item system fields (title, ...).
                const bool custom = !name.empty() && name[0] >= 'A' && name[0] <= 'Z';
                if (custom && p.FindField(name) == nullptr) {
                    out.push_back({PathIndex(PathKey(PathIndex(sections_path, i), "fields"), j),
                                   fmt::format("unknown field '{}'", name)});
                }
            }
        }
    }
}

void CheckRobots(const WorkplaceSpec& spec, std::vector<SchemaProblem>& out) {
    const std::string robots_path = "$.robots";
    CheckUnique(
        spec.robots, [](const RobotSpec& r) { return r.code; }, robots_path, "robot code", out);
    for (std::size_t i = 0; i < spec.robots.size(); ++i) {
        const auto& robot = spec.robots[i];
        const std::string path = PathIndex(robots_path, i);
        if (robot.handler != "/b24/robots/" + robot.code) {
            out.push_back({PathKey(path, "handler"), fmt::format("must be /b24/robots/{}", robot.code)});
        }
        for (const auto* key : {"properties", "return_properties"}) {
            const auto& list = std::string_view(key) == "properties" ? robot.properties : robot.return_properties;
            CheckUnique(
                list, [](const RobotPropertySpec& p) { return p.code; }, PathKey(path, key), "property code", out);
        }
        const auto* process = spec.FindProcess(robot.process);
        if (process == nullptr) {
            out.push_back({PathKey(path, "process"), fmt::format("unknown smart process '{}'", robot.process)});
            continue;
        }
        if (process->features.is_automation_enabled != true) {
            out.push_back({PathKey(path, "process"),
                           fmt::format("robots need isAutomationEnabled: true on '{}'", robot.process)});
        }
        for (std::size_t j = 0; j < robot.used_in.size(); ++j) {
            const auto& placement = robot.used_in[j];
            const std::string placement_path = PathIndex(PathKey(path, "used_in"), j);
            const auto* funnel = process->FindFunnel(placement.funnel);
            if (funnel == nullptr) {
                out.push_back({PathKey(placement_path, "funnel"),
                               fmt::format("unknown funnel '{}' in '{}'", placement.funnel, robot.process)});
            } else if (funnel->FindStage(placement.stage) == nullptr) {
                out.push_back({PathKey(placement_path, "stage"),
                               fmt::format("unknown stage '{}' in funnel '{}'", placement.stage, placement.funnel)});
            }
        }
    }
}

}  // namespace

const std::string& LocalizedText::Get(std::string_view language) const {
    static const std::string kEmpty;
    if (const auto it = by_language.find(std::string(language)); it != by_language.end()) {
        return it->second;
    }
    const auto en = by_language.find("en");
    return en != by_language.end() ? en->second : kEmpty;
}

std::string_view ToString(StageRole role) { return NameOf(kRoles, role); }
std::optional<StageRole> ParseStageRole(std::string_view text) { return Lookup(kRoles, text); }
std::string_view ToString(StageSemantics semantics) { return NameOf(kSemantics, semantics); }
std::optional<StageSemantics> ParseStageSemantics(std::string_view text) { return Lookup(kSemantics, text); }
std::string_view ToString(FieldType type) { return NameOf(kFieldTypes, type); }
std::optional<FieldType> ParseFieldType(std::string_view text) { return Lookup(kFieldTypes, text); }
std::string_view ToString(RobotPropertyType type) { return NameOf(kPropertyTypes, type); }

StageSemantics SemanticsOf(StageRole role) {
    switch (role) {
        case StageRole::kDone:
            return StageSemantics::kSuccess;
        case StageRole::kRejected:
            return StageSemantics::kFailure;
        default:
            return StageSemantics::kProcess;
    }
}

const StageSpec* FunnelSpec::FindStage(std::string_view stage_code) const {
    const auto it =
        std::find_if(stages.begin(), stages.end(), [&](const StageSpec& s) { return s.code == stage_code; });
    return it == stages.end() ? nullptr : &*it;
}

const StageSpec* FunnelSpec::StageWithRole(StageRole role) const {
    const auto it = std::find_if(stages.begin(), stages.end(), [&](const StageSpec& s) { return s.role == role; });
    return it == stages.end() ? nullptr : &*it;
}

std::string FieldSpec::UfName(std::int64_t type_id) const { return fmt::format("UF_CRM_{}_{}", type_id, code); }

const EnumItemSpec* FieldSpec::FindItem(std::string_view xml_id) const {
    const auto it = std::find_if(items.begin(), items.end(), [&](const EnumItemSpec& e) { return e.xml_id == xml_id; });
    return it == items.end() ? nullptr : &*it;
}

std::vector<std::pair<std::string_view, bool>> TypeFeatures::Managed() const {
    const std::pair<std::string_view, const std::optional<bool>*> slots[] = {
        {"isCategoriesEnabled", &is_categories_enabled},
        {"isStagesEnabled", &is_stages_enabled},
        {"isBeginCloseDatesEnabled", &is_begin_close_dates_enabled},
        {"isClientEnabled", &is_client_enabled},
        {"isObserversEnabled", &is_observers_enabled},
        {"isAutomationEnabled", &is_automation_enabled},
        {"isBizProcEnabled", &is_biz_proc_enabled},
        {"isDocumentsEnabled", &is_documents_enabled},
        {"isLinkWithProductsEnabled", &is_link_with_products_enabled},
        {"isMycompanyEnabled", &is_mycompany_enabled},
        {"isRecyclebinEnabled", &is_recyclebin_enabled},
        {"isSourceEnabled", &is_source_enabled},
        {"isSetOpenPermissions", &is_set_open_permissions},
        {"isUseInUserfieldEnabled", &is_use_in_userfield_enabled},
    };
    std::vector<std::pair<std::string_view, bool>> out;
    for (const auto& [name, slot] : slots) {
        if (slot->has_value()) {
            out.emplace_back(name, **slot);
        }
    }
    return out;
}

const FunnelSpec* SmartProcessSpec::FindFunnel(std::string_view funnel_code) const {
    const auto it =
        std::find_if(funnels.begin(), funnels.end(), [&](const FunnelSpec& f) { return f.code == funnel_code; });
    return it == funnels.end() ? nullptr : &*it;
}

const FunnelSpec* SmartProcessSpec::DefaultFunnel() const {
    const auto it = std::find_if(funnels.begin(), funnels.end(), [](const FunnelSpec& f) { return f.is_default; });
    return it == funnels.end() ? nullptr : &*it;
}

const FieldSpec* SmartProcessSpec::FindField(std::string_view field_code) const {
    const auto it =
        std::find_if(fields.begin(), fields.end(), [&](const FieldSpec& f) { return f.code == field_code; });
    return it == fields.end() ? nullptr : &*it;
}

const SmartProcessSpec* WorkplaceSpec::FindProcess(std::string_view process_code) const {
    const auto it = std::find_if(smart_processes.begin(), smart_processes.end(), [&](const SmartProcessSpec& p) {
        return p.code == process_code;
    });
    return it == smart_processes.end() ? nullptr : &*it;
}

const SmartProcessSpec* WorkplaceSpec::ProcessFor(ProcessPurpose purpose) const {
    const auto it = std::find_if(smart_processes.begin(), smart_processes.end(), [&](const SmartProcessSpec& p) {
        return p.purpose == purpose;
    });
    return it == smart_processes.end() ? nullptr : &*it;
}

const RobotSpec* WorkplaceSpec::FindRobot(std::string_view robot_code) const {
    const auto it =
        std::find_if(robots.begin(), robots.end(), [&](const RobotSpec& r) { return r.code == robot_code; });
    return it == robots.end() ? nullptr : &*it;
}

const std::vector<RequiredField>& RequiredRequestFields() {
    namespace fc = field_codes;
    static const std::vector<RequiredField> kFields = {
        {fc::kTemplate, FieldType::kEnumeration},
        {fc::kPriority, FieldType::kEnumeration},
        {fc::kReactionDue, FieldType::kDateTime},
        {fc::kResolutionDue, FieldType::kDateTime},
        {fc::kSlaState, FieldType::kEnumeration},
        {fc::kEscalationLevel, FieldType::kInteger},
        {fc::kLine, FieldType::kEnumeration},
        {fc::kReturns, FieldType::kInteger},
        {fc::kReactionMinutes, FieldType::kInteger},
        {fc::kResolutionMinutes, FieldType::kInteger},
        {fc::kReactionOnTime, FieldType::kBoolean},
        {fc::kResolutionOnTime, FieldType::kBoolean},
        {fc::kAutoAccepted, FieldType::kBoolean},
    };
    return kFields;
}

const std::vector<RequiredField>& RequiredKpiFields() {
    namespace fc = field_codes;
    static const std::vector<RequiredField> kFields = {
        {fc::kKpiKey, FieldType::kString},
        {fc::kKpiPeriodKind, FieldType::kEnumeration},
        {fc::kKpiPeriodStart, FieldType::kDate},
        {fc::kKpiScopeKind, FieldType::kEnumeration},
        {fc::kKpiScopeValue, FieldType::kString},
        {fc::kKpiCreated, FieldType::kInteger},
        {fc::kKpiClosed, FieldType::kInteger},
        {fc::kKpiAutoClosed, FieldType::kInteger},
        {fc::kKpiReactionMedian, FieldType::kDouble},
        {fc::kKpiReactionP90, FieldType::kDouble},
        {fc::kKpiResolutionMedian, FieldType::kDouble},
        {fc::kKpiResolutionP90, FieldType::kDouble},
        {fc::kKpiReactionOnTimePercent, FieldType::kDouble},
        {fc::kKpiResolutionOnTimePercent, FieldType::kDouble},
        {fc::kKpiReturns, FieldType::kInteger},
        {fc::kKpiReturnRate, FieldType::kDouble},
        {fc::kKpiAutoAcceptedShare, FieldType::kDouble},
        {fc::kKpiOpenLoad, FieldType::kInteger},
    };
    return kFields;
}

std::vector<SchemaProblem> CheckWorkplaceRules(const WorkplaceSpec& spec) {
    std::vector<SchemaProblem> out;
    const std::string processes_path = "$.smart_processes";
    CheckUnique(
        spec.smart_processes,
        [](const SmartProcessSpec& p) { return p.code; },
        processes_path,
        "smart process code",
        out);
    const auto requests =
        std::count_if(spec.smart_processes.begin(), spec.smart_processes.end(), [](const SmartProcessSpec& p) {
            return p.purpose == ProcessPurpose::kRequests;
        });
    const auto kpis = std::count_if(spec.smart_processes.begin(),
                                    spec.smart_processes.end(),
                                    [](const SmartProcessSpec& p) { return p.purpose == ProcessPurpose::kKpi; });
    if (requests != 1) {
        out.push_back(
            {processes_path, fmt::format("exactly one smart process must have purpose 'requests', {} do", requests)});
    }
    if (kpis > 1) {
        out.push_back({processes_path, fmt::format("at most one smart process may have purpose 'kpi', {} do", kpis)});
    }
    for (std::size_t i = 0; i < spec.smart_processes.size(); ++i) {
        CheckProcess(spec.smart_processes[i], PathIndex(processes_path, i), out);
    }
    CheckRobots(spec, out);
    CheckUnique(
        spec.events,
        [](const EventBindingSpec& e) { return e.event + " " + e.handler; },
        "$.events",
        "event binding",
        out);
    return out;
}

Result<WorkplaceSpec> BuildWorkplaceSpec(const boost::json::value& doc, const json::Schema& schema) {
    // Schema problems first: the model is only built from a document of the right shape, so that rule problems
    // never stand in for a more basic one.
    if (auto valid = schema.Check(doc); !valid) {
        return valid.error();
    }
    std::vector<SchemaProblem> problems;
    Reader reader(problems);
    WorkplaceSpec spec = ReadSpec(reader, doc);
    auto rules = CheckWorkplaceRules(spec);
    problems.insert(problems.end(), std::make_move_iterator(rules.begin()), std::make_move_iterator(rules.end()));
    if (!problems.empty()) {
        std::string detail;
        for (const auto& p : problems) {
            detail += detail.empty() ? "" : "; ";
            detail += p.path + ": " + p.reason;
        }
        return Fail(CoreErrc::kInvalid, detail);
    }
    return spec;
}

Result<WorkplaceSpec> LoadWorkplaceSpec(const std::string& path, const std::string& schema_path) {
    auto schema = json::Schema::LoadFile(schema_path);
    if (!schema) {
        return schema.error();
    }
    auto doc = json::ParseFile(path);
    if (!doc) {
        return doc.error();
    }
    auto spec = BuildWorkplaceSpec(*doc, *schema);
    if (!spec) {
        return Error{spec.error().code, path + ": " + spec.error().detail};
    }
    return spec;
}

}  // namespace dispatch::provision
