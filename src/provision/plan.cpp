#include "provision/plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <set>

#include "b24/batch.hpp"
#include "b24/errc.hpp"
#include "core/json.hpp"

namespace dispatch::provision {

namespace bj = boost::json;

namespace {

constexpr std::size_t kNoEntry = std::numeric_limits<std::size_t>::max();

// bizproc-robot-add.md: the document type of a smart process (CONTRACT §11.1, §14.8: DYNAMIC_{entityTypeId}).
constexpr std::string_view kDynamicDocument = "Bitrix\\Crm\\Integration\\BizProc\\Document\\Dynamic";

std::string YN(bool value) { return value ? "Y" : "N"; }

std::string Quoted(std::string_view text) { return fmt::format("'{}'", text); }

bj::object Localized(const LocalizedText& text) {
    bj::object out;
    for (const auto& [language, value] : text.by_language) {
        out[language] = value;
    }
    return out;
}

// What differs between an object on the portal and the spec: one readable line per difference for the plan, and
// the REST fields that repair them.
struct Changes {
    std::vector<std::string> diffs;
    bj::object fields;

    void Text(std::string_view label, const std::string& have, const std::string& want, std::string_view field) {
        if (have != want) {
            diffs.push_back(fmt::format("{} {} -> {}", label, Quoted(have), Quoted(want)));
            fields[field] = want;
        }
    }
    void Number(std::string_view label, std::int64_t have, std::int64_t want, std::string_view field) {
        if (have != want) {
            diffs.push_back(fmt::format("{} {} -> {}", label, have, want));
            fields[field] = want;
        }
    }
    void Flag(std::string_view label, bool have, bool want, std::string_view field) {
        if (have != want) {
            diffs.push_back(fmt::format("{} {} -> {}", label, YN(have), YN(want)));
            fields[field] = YN(want);
        }
    }
    // The spec's text in each of its languages against a portal label object {"en": "...", "ru": "..."}; the
    // whole label is sent when any language differs.
    void Labels(std::string_view label, const LocalizedText& want, const bj::object& have, std::string_view field) {
        bool differs = false;
        for (const auto& [language, text] : want.by_language) {
            const auto* v = have.if_contains(language);
            const std::string current = v != nullptr && !v->is_null() ? json::ToString(*v).value_or("") : "";
            if (current != text) {
                diffs.push_back(fmt::format("{}[{}] {} -> {}", label, language, Quoted(current), Quoted(text)));
                differs = true;
            }
        }
        if (differs) {
            fields[field] = Localized(want);
        }
    }
    bool Empty() const { return diffs.empty(); }
};

std::string Upper(std::string text) {
    std::transform(
        text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return text;
}

std::string SemanticsCode(StageSemantics semantics) {
    switch (semantics) {
        case StageSemantics::kSuccess:
            return "S";
        case StageSemantics::kFailure:
            return "F";
        case StageSemantics::kProcess:
            break;
    }
    return "";
}

// Settings and numbers come back as strings or numbers (CONTRACT §13.2): compare their text.
std::string Canonical(const bj::value& v) {
    if (v.is_bool()) {
        return v.get_bool() ? "1" : "0";
    }
    if (v.is_double()) {
        const double d = v.get_double();
        if (d == static_cast<double>(static_cast<std::int64_t>(d))) {
            return std::to_string(static_cast<std::int64_t>(d));
        }
    }
    if (auto text = json::ToString(v)) {
        return *text;
    }
    return json::Dump(v);
}

std::string Join(const std::vector<std::string>& parts, std::string_view separator = "; ") {
    std::string out;
    for (const auto& part : parts) {
        if (!out.empty()) {
            out += separator;
        }
        out += part;
    }
    return out;
}

std::string JoinUrl(std::string_view base, std::string_view path) {
    while (!base.empty() && base.back() == '/') {
        base.remove_suffix(1);
    }
    return fmt::format("{}{}", base, path);
}

bool SameColor(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

bool ShowFilterOn(std::string_view portal_value) { return !portal_value.empty() && portal_value != "N"; }

class Planner {
public:
    Planner(const WorkplaceSpec& spec, const PortalSnapshot& snap, const Layout* stored, const PlanOptions& options)
        : spec_(spec), snap_(snap), stored_(stored), options_(options) {}

    Plan Run() {
        if (!snap_.base_read) {
            BaseReads();
            plan_.complete = false;
            plan_.layout_known = false;
            return std::move(plan_);
        }
        if (ProcessReads()) {
            plan_.complete = false;
            plan_.layout_known = false;
            return std::move(plan_);
        }
        Workplace();
        Types();
        Binding();
        for (const auto& process : spec_.smart_processes) {
            Funnels(process);
        }
        for (const auto& process : spec_.smart_processes) {
            Stages(process);
        }
        for (const auto& process : spec_.smart_processes) {
            Fields(process);
        }
        Events();
        Robots();
        Advice();
        if (!count_reads_.empty()) {
            // Deletions wait until the items they would touch are counted; show the rest, send only the counts.
            for (auto& entry : plan_.entries) {
                entry.ops.clear();
            }
            plan_.ops = std::move(count_reads_);
            plan_.complete = false;
        }
        return std::move(plan_);
    }

private:
    // ---- bookkeeping -----------------------------------------------------------------------------------------

    std::size_t AddEntry(ObjectKind kind, Action action, std::string path, std::string note, std::int64_t id = 0) {
        PlanEntry entry;
        entry.kind = kind;
        entry.action = action;
        entry.path = std::move(path);
        entry.note = std::move(note);
        entry.portal_id = id;
        plan_.entries.push_back(std::move(entry));
        return plan_.entries.size() - 1;
    }

    PlannedOp NewOp(OpKind kind, std::string method, bj::object params, std::size_t entry) {
        PlannedOp op;
        op.key = fmt::format("o{}", next_key_++);
        op.method = std::move(method);
        op.params = std::move(params);
        op.kind = kind;
        op.entry = entry;
        const auto refs = b24::RefsIn(bj::value(op.params));
        op.refs.assign(refs.begin(), refs.end());
        return op;
    }

    const std::string& Push(PlannedOp op) {
        const std::size_t index = plan_.ops.size();
        if (op.entry != kNoEntry) {
            plan_.entries[op.entry].ops.push_back(index);
        }
        plan_.ops.push_back(std::move(op));
        return plan_.ops.back().key;
    }

    // What counts as a change: recorded objects that differ are drift, others are updates (or creations).
    static Action Changed(bool recorded) { return recorded ? Action::kDrift : Action::kUpdate; }
    static Action Missing(bool recorded) { return recorded ? Action::kDrift : Action::kCreate; }

    const std::string& Lang() const { return spec_.language; }

    // ---- what the layout recorded ------------------------------------------------------------------------------

    const ProcessIds* StoredProcess(std::string_view code) const {
        return stored_ != nullptr ? stored_->FindProcess(code) : nullptr;
    }
    const FunnelIds* StoredFunnel(std::string_view process, std::string_view funnel) const {
        const auto* p = StoredProcess(process);
        return p != nullptr ? p->FindFunnel(funnel) : nullptr;
    }
    const StageIds* StoredStage(std::string_view process, std::string_view funnel, std::string_view code) const {
        const auto* f = StoredFunnel(process, funnel);
        if (f == nullptr) {
            return nullptr;
        }
        for (const auto& s : f->stages) {
            if (s.code == code && s.id != 0) {
                return &s;
            }
        }
        return nullptr;
    }
    const FieldIds* StoredField(std::string_view process, std::string_view code) const {
        const auto* p = StoredProcess(process);
        const auto* f = p != nullptr ? p->FindField(code) : nullptr;
        return f != nullptr && f->id != 0 ? f : nullptr;
    }

    // ---- matching --------------------------------------------------------------------------------------------

    const PortalType* MatchType(const SmartProcessSpec& process) const {
        if (const auto* sp = StoredProcess(process.code); sp != nullptr && sp->type_id != 0) {
            if (const auto* t = snap_.TypeById(sp->type_id)) {
                return t;
            }
        }
        return snap_.TypeByCode(process.code);
    }

    const PortalSolution* MatchWorkplace() const {
        for (const auto id : {snap_.assigned_workplace, stored_ != nullptr ? stored_->workplace_id : 0}) {
            if (const auto* s = id != 0 ? snap_.SolutionById(id) : nullptr) {
                return s;
            }
        }
        // A workplace carries no code; the one holding our smart processes is ours.
        for (const auto& process : spec_.smart_processes) {
            if (const auto* t = MatchType(process)) {
                for (const auto& s : snap_.solutions) {
                    if (std::find(s.type_ids.begin(), s.type_ids.end(), t->id) != s.type_ids.end()) {
                        return &s;
                    }
                }
            }
        }
        // An empty workplace with our title: adopting it loses nothing, creating another would leave a twin (an
        // apply cut off between creating the workplace and linking the types, with no layout stored).
        for (const auto& s : snap_.solutions) {
            if (s.type_ids.empty() && s.title == spec_.workplace.title) {
                return &s;
            }
        }
        return nullptr;
    }

    struct FunnelMatch {
        const PortalCategory* category = nullptr;
        std::string how;  // "", "by default flag", "by name"
    };

    // Spec funnels (in order) → categories of `type`: recorded id first, then the default flag, then the name.
    std::vector<FunnelMatch> MatchFunnels(const SmartProcessSpec& process, const PortalType& type) const {
        std::vector<FunnelMatch> out(process.funnels.size());
        std::set<std::int64_t> claimed;
        const auto categories = snap_.CategoriesOf(type.entity_type_id);
        auto take = [&](std::size_t i, const PortalCategory* c, std::string how) {
            out[i].category = c;
            out[i].how = std::move(how);
            claimed.insert(c->id);
        };
        for (std::size_t i = 0; i < process.funnels.size(); ++i) {
            const auto& funnel = process.funnels[i];
            std::int64_t hint = 0;
            const std::string key = process.code + "/" + funnel.code;
            if (const auto it = snap_.assigned_categories.find(key); it != snap_.assigned_categories.end()) {
                hint = it->second;
            } else if (const auto* sf = StoredFunnel(process.code, funnel.code)) {
                hint = sf->category_id;
            }
            const auto* c = hint != 0 ? snap_.CategoryById(hint) : nullptr;
            if (c != nullptr && c->entity_type_id == type.entity_type_id && claimed.count(c->id) == 0) {
                take(i, c, "");
            }
        }
        for (std::size_t i = 0; i < process.funnels.size(); ++i) {
            if (out[i].category != nullptr || !process.funnels[i].is_default) {
                continue;
            }
            for (const auto* c : categories) {
                if (c->is_default && claimed.count(c->id) == 0) {
                    take(i, c, "the portal's default funnel");
                    break;
                }
            }
        }
        for (std::size_t i = 0; i < process.funnels.size(); ++i) {
            if (out[i].category != nullptr) {
                continue;
            }
            for (const auto* c : categories) {
                if (claimed.count(c->id) != 0) {
                    continue;
                }
                const auto& names = process.funnels[i].name.by_language;
                if (std::any_of(names.begin(), names.end(), [&](const auto& kv) { return kv.second == c->name; })) {
                    take(i, c, "matched by name: no id was recorded for it");
                    break;
                }
            }
        }
        return out;
    }

    // ---- reads -----------------------------------------------------------------------------------------------

    void Read(OpKind kind, std::string method, bj::object params) {
        Push(NewOp(kind, std::move(method), std::move(params), kNoEntry));
    }

    void BaseReads() {
        Read(OpKind::kListSolutions, "crm.automatedsolution.list", {});
        Read(OpKind::kListTypes, "crm.type.list", {});
        if (options_.app_context) {
            Read(OpKind::kListBindings, "event.get", {});
            Read(OpKind::kListRobots, "bizproc.robot.list", {});
        }
    }

    // The stages matching `filter`; entity_type_id and category_id are 0 while only a back-reference knows them.
    PlannedOp StageListOp(bj::object filter, std::int64_t entity_type_id = 0, std::int64_t category_id = 0) {
        auto op = NewOp(OpKind::kListStages,
                        "crm.status.list",
                        {{"filter", std::move(filter)}, {"order", bj::object{{"SORT", "ASC"}}}},
                        kNoEntry);
        op.entity_type_id = entity_type_id;
        op.category_id = category_id;
        return op;
    }

    // Reads of the matched types' funnels, stages and fields that nothing has read yet. True when any is needed.
    bool ProcessReads() {
        for (const auto& process : spec_.smart_processes) {
            const auto* type = MatchType(process);
            if (type == nullptr) {
                continue;
            }
            const auto e = type->entity_type_id;
            if (!process.funnels.empty()) {
                if (snap_.categories_read.count(e) == 0) {
                    auto op = NewOp(OpKind::kListCategories, "crm.category.list", {{"entityTypeId", e}}, kNoEntry);
                    op.entity_type_id = e;
                    op.process = process.code;
                    Push(std::move(op));
                    // The stages of the funnels the layout knows can be read in the same request.
                    if (const auto* sp = StoredProcess(process.code); sp != nullptr && sp->entity_type_id == e) {
                        for (const auto& f : sp->funnels) {
                            if (f.category_id != 0 && snap_.stages_read.count(f.category_id) == 0) {
                                Push(StageListOp({{"ENTITY_ID", StageEntityId(e, f.category_id)}}, e, f.category_id));
                            }
                        }
                    }
                } else {
                    for (const auto& m : MatchFunnels(process, *type)) {
                        if (m.category != nullptr && snap_.stages_read.count(m.category->id) == 0) {
                            Push(StageListOp({{"ENTITY_ID", StageEntityId(e, m.category->id)}}, e, m.category->id));
                        }
                    }
                }
            }
            if (snap_.fields_read.count(type->id) == 0) {
                auto op = NewOp(OpKind::kListFields,
                                "userfieldconfig.list",
                                {{"moduleId", "crm"}, {"filter", bj::object{{"entityId", UfEntityId(type->id)}}}},
                                kNoEntry);
                op.object_id = type->id;
                op.process = process.code;
                Push(std::move(op));
            }
        }
        return !plan_.ops.empty();
    }

    // How many items a deletion would touch; nullopt (and a count is requested) while unknown. A funnel this apply
    // created (category_id; 0 for a filter across funnels) holds none, so it is not counted.
    std::optional<std::int64_t> ItemsIn(const std::string& key,
                                        std::int64_t entity_type_id,
                                        bj::object filter,
                                        std::int64_t category_id = 0) {
        if (category_id != 0 && snap_.fresh_categories.count(category_id) != 0) {
            return 0;
        }
        if (const auto count = snap_.ItemCount(key)) {
            return count;
        }
        auto op = NewOp(OpKind::kCountItems,
                        "crm.item.list",
                        {{"entityTypeId", entity_type_id}, {"select", bj::array{"id"}}, {"filter", std::move(filter)}},
                        kNoEntry);
        op.count_key = key;
        count_reads_.push_back(std::move(op));
        return std::nullopt;
    }

    // The items holding a value in field `pf`.
    std::optional<std::int64_t> FieldItems(const PortalField& pf, std::int64_t entity_type_id) {
        return ItemsIn(FieldCountKey(pf.field_name), entity_type_id, bj::object{{"!" + pf.field_name, ""}});
    }

    // A stray funnel or stage to delete once its items are counted.
    void Counting(ObjectKind kind, std::string path, std::string_view name, std::int64_t id) {
        AddEntry(kind,
                 Action::kDelete,
                 std::move(path),
                 fmt::format("{} is not in the spec (counting its items)", Quoted(name)),
                 id);
    }

    // ---- workplace, types, binding ---------------------------------------------------------------------------

    void Workplace() {
        const auto& want = spec_.workplace;
        workplace_ = MatchWorkplace();
        const bool recorded = stored_ != nullptr && stored_->workplace_id != 0;
        if (workplace_ == nullptr) {
            const auto entry = AddEntry(ObjectKind::kWorkplace, Missing(recorded), want.code, Quoted(want.title));
            workplace_key_ = Push(NewOp(OpKind::kSolutionAdd,
                                        "crm.automatedsolution.add",
                                        {{"fields", bj::object{{"title", want.title}}}},
                                        entry));
            return;
        }
        plan_.layout.workplace_id = workplace_->id;
        if (workplace_->title != want.title) {
            workplace_entry_ = AddEntry(ObjectKind::kWorkplace,
                                        Changed(recorded),
                                        want.code,
                                        fmt::format("title {} -> {}", Quoted(workplace_->title), Quoted(want.title)),
                                        workplace_->id);
        } else {
            AddEntry(ObjectKind::kWorkplace,
                     Action::kUnchanged,
                     want.code,
                     fmt::format("id={}", workplace_->id),
                     workplace_->id);
        }
    }

    void Types() {
        for (const auto& process : spec_.smart_processes) {
            const auto* type = MatchType(process);
            const auto* sp = StoredProcess(process.code);
            const bool recorded = sp != nullptr && sp->type_id != 0;
            ProcessIds ids;
            ids.code = process.code;
            if (type == nullptr) {
                bj::object fields{{"title", process.title}, {"code", process.code}};
                for (const auto& [name, value] : process.features.Managed()) {
                    fields[name] = YN(value);
                }
                const auto entry = AddEntry(ObjectKind::kType, Missing(recorded), process.code, Quoted(process.title));
                auto op = NewOp(OpKind::kTypeAdd, "crm.type.add", {{"fields", std::move(fields)}}, entry);
                op.process = process.code;
                new_type_keys_[process.code] = Push(std::move(op));
                plan_.layout.processes.push_back(std::move(ids));
                continue;
            }
            ids.type_id = type->id;
            ids.entity_type_id = type->entity_type_id;
            plan_.layout.processes.push_back(std::move(ids));
            Changes changes;
            changes.Text("title", type->title, process.title, "title");
            changes.Text("code", type->code, process.code, "code");
            for (const auto& [name, value] : process.features.Managed()) {
                if (const auto it = type->flags.find(name); it != type->flags.end()) {
                    changes.Flag(name, it->second, value, name);
                }
            }
            const auto ids_note = fmt::format("id={} entityTypeId={}", type->id, type->entity_type_id);
            if (changes.Empty()) {
                AddEntry(ObjectKind::kType, Action::kUnchanged, process.code, ids_note, type->id);
                continue;
            }
            const auto entry =
                AddEntry(ObjectKind::kType, Changed(recorded), process.code, Join(changes.diffs), type->id);
            auto op = NewOp(OpKind::kTypeUpdate,
                            "crm.type.update",
                            {{"id", type->id}, {"fields", std::move(changes.fields)}},
                            entry);
            op.process = process.code;
            op.object_id = type->id;
            Push(std::move(op));
        }
    }

    void Binding() {
        bj::array type_ids;
        std::vector<std::size_t> entries;
        if (workplace_ != nullptr) {
            for (const auto id : workplace_->type_ids) {
                type_ids.push_back(id);  // typeIds replaces the whole set: keep what others linked
            }
        }
        const bool workplace_recorded = stored_ != nullptr && stored_->workplace_id != 0;
        for (const auto& process : spec_.smart_processes) {
            const auto path = fmt::format("{} <- {}", spec_.workplace.code, process.code);
            const auto* type = MatchType(process);
            if (type == nullptr) {
                type_ids.push_back(bj::value(b24::Ref(new_type_keys_.at(process.code), {"type", "id"})));
                entries.push_back(AddEntry(ObjectKind::kBinding, Action::kCreate, path, "link the new type"));
                continue;
            }
            const bool linked = workplace_ != nullptr &&
                                std::find(workplace_->type_ids.begin(), workplace_->type_ids.end(), type->id) !=
                                    workplace_->type_ids.end();
            if (linked) {
                AddEntry(ObjectKind::kBinding, Action::kUnchanged, path, fmt::format("type id={}", type->id));
                continue;
            }
            const auto* sp = StoredProcess(process.code);
            const bool recorded = workplace_recorded && sp != nullptr && sp->type_id == type->id;
            type_ids.push_back(type->id);
            entries.push_back(
                AddEntry(ObjectKind::kBinding,
                         Missing(recorded),
                         path,
                         fmt::format("link type id={} (linking moves it out of any other workplace)", type->id)));
        }
        const bool retitle = workplace_entry_ != kNoEntry;
        if (entries.empty() && !retitle) {
            return;
        }
        bj::object fields;
        if (!entries.empty()) {
            fields["typeIds"] = std::move(type_ids);
        }
        if (retitle) {
            fields["title"] = spec_.workplace.title;
        }
        const std::size_t owner = !entries.empty() ? entries.front() : workplace_entry_;
        bj::value id = workplace_ != nullptr ? bj::value(workplace_->id)
                                             : bj::value(b24::Ref(workplace_key_, {"automatedSolution", "id"}));
        auto op = NewOp(OpKind::kSolutionUpdate,
                        "crm.automatedsolution.update",
                        {{"id", std::move(id)}, {"fields", std::move(fields)}},
                        owner);
        Push(std::move(op));
        for (const auto e : entries) {
            if (e != owner) {
                plan_.entries[e].ops.push_back(plan_.ops.size() - 1);
            }
        }
        if (retitle && owner != workplace_entry_) {
            plan_.entries[workplace_entry_].ops.push_back(plan_.ops.size() - 1);
        }
    }

    // ---- funnels -----------------------------------------------------------------------------------------------

    void Funnels(const SmartProcessSpec& process) {
        if (process.funnels.empty()) {
            return;
        }
        const auto* type = MatchType(process);
        if (type == nullptr) {
            FunnelsOfNewType(process);
            return;
        }
        const auto e = type->entity_type_id;
        const auto matches = MatchFunnels(process, *type);
        auto* layout = plan_.layout.FindProcess(process.code);
        for (std::size_t i = 0; i < process.funnels.size(); ++i) {
            const auto& funnel = process.funnels[i];
            const auto path = fmt::format("{}/{}", process.code, funnel.code);
            const auto* c = matches[i].category;
            const auto* sf = StoredFunnel(process.code, funnel.code);
            const bool recorded = sf != nullptr && sf->category_id != 0;
            const auto name = funnel.name.Get(Lang());
            if (c == nullptr) {
                AddFunnel(process, funnel, e, AddEntry(ObjectKind::kFunnel, Missing(recorded), path, Quoted(name)));
                continue;
            }
            FunnelIds ids;
            ids.code = funnel.code;
            ids.category_id = c->id;
            ids.is_default = c->is_default;
            layout->funnels.push_back(std::move(ids));
            matched_funnels_[path] = c;
            Changes changes;
            changes.Text("name", c->name, name, "name");
            changes.Number("sort", c->sort, funnel.sort, "sort");
            if (funnel.is_default && !c->is_default) {
                changes.diffs.push_back("becomes the default funnel");
                changes.fields["isDefault"] = "Y";
            }
            std::string how = matches[i].how.empty() ? "" : fmt::format(" ({})", matches[i].how);
            if (changes.Empty()) {
                AddEntry(ObjectKind::kFunnel, Action::kUnchanged, path, fmt::format("id={}{}", c->id, how), c->id);
                continue;
            }
            const auto entry = AddEntry(ObjectKind::kFunnel, Changed(recorded), path, Join(changes.diffs) + how, c->id);
            auto op = NewOp(OpKind::kCategoryUpdate,
                            "crm.category.update",
                            {{"entityTypeId", e}, {"id", c->id}, {"fields", std::move(changes.fields)}},
                            entry);
            op.process = process.code;
            op.funnel = funnel.code;
            op.entity_type_id = e;
            op.object_id = c->id;
            Push(std::move(op));
        }
        StrayFunnels(process, *type, matches);
    }

    // `entity_type`: the type's entityTypeId, or a back-reference to the crm.type.add of the same batch.
    void AddFunnel(const SmartProcessSpec& process,
                   const FunnelSpec& funnel,
                   const bj::value& entity_type,
                   std::size_t entry) {
        const std::int64_t e = entity_type.is_int64() ? entity_type.get_int64() : 0;
        auto op = NewOp(
            OpKind::kCategoryAdd,
            "crm.category.add",
            {{"entityTypeId", entity_type},
             {"fields",
              bj::object{
                  {"name", funnel.name.Get(Lang())}, {"sort", funnel.sort}, {"isDefault", YN(funnel.is_default)}}}},
            entry);
        op.process = process.code;
        op.funnel = funnel.code;
        op.entity_type_id = e;
        const auto key = Push(std::move(op));
        // A new funnel comes with the portal's default stages; read them in the same request.
        Push(StageListOp({{"CATEGORY_ID", b24::Ref(key, {"category", "id"})}}, e));
    }

    void FunnelsOfNewType(const SmartProcessSpec& process) {
        const auto& type_key = new_type_keys_.at(process.code);
        const bj::value entity_type_ref(b24::Ref(type_key, {"type", "entityTypeId"}));
        // crm.type.add gives every new type a default funnel with the default stages (CONTRACT §14.10): list it
        // and its stages in the same request, and reshape it on the next plan.
        auto list = NewOp(OpKind::kListCategories, "crm.category.list", {{"entityTypeId", entity_type_ref}}, kNoEntry);
        list.process = process.code;
        list.fresh = true;
        const auto list_key = Push(std::move(list));
        Push(StageListOp({{"CATEGORY_ID", b24::Ref(list_key, {"categories", "0", "id"})}}));
        for (const auto& funnel : process.funnels) {
            const auto path = fmt::format("{}/{}", process.code, funnel.code);
            const auto name = funnel.name.Get(Lang());
            if (funnel.is_default) {
                const auto entry = AddEntry(ObjectKind::kFunnel,
                                            Action::kCreate,
                                            path,
                                            fmt::format("{} (the new type's default funnel, reshaped)", Quoted(name)));
                plan_.entries[entry].deferred = true;
                continue;
            }
            AddFunnel(
                process, funnel, entity_type_ref, AddEntry(ObjectKind::kFunnel, Action::kCreate, path, Quoted(name)));
        }
    }

    void StrayFunnels(const SmartProcessSpec& process,
                      const PortalType& type,
                      const std::vector<FunnelMatch>& matches) {
        for (const auto* c : snap_.CategoriesOf(type.entity_type_id)) {
            const bool matched =
                std::any_of(matches.begin(), matches.end(), [&](const FunnelMatch& m) { return m.category == c; });
            if (matched) {
                continue;
            }
            const auto path = fmt::format("{}/#{}", process.code, c->id);
            if (!options_.prune) {
                AddEntry(ObjectKind::kFunnel,
                         Action::kKeep,
                         path,
                         fmt::format("{} is not in the spec (kept; --prune deletes it when it holds no items)",
                                     Quoted(c->name)),
                         c->id);
                continue;
            }
            if (c->is_default) {
                AddEntry(ObjectKind::kFunnel,
                         Action::kKeep,
                         path,
                         fmt::format("{} is the portal's default funnel: it cannot be deleted", Quoted(c->name)),
                         c->id);
                continue;
            }
            const auto items =
                ItemsIn(CategoryCountKey(c->id), type.entity_type_id, bj::object{{"categoryId", c->id}}, c->id);
            if (!items) {
                Counting(ObjectKind::kFunnel, path, c->name, c->id);
                continue;
            }
            if (*items > 0) {
                // crm-category-delete.md: the portal refuses while items remain; moving them is a decision.
                AddEntry(ObjectKind::kFunnel,
                         Action::kKeep,
                         path,
                         fmt::format("{} is not in the spec but holds {} items: move or delete them first, the portal "
                                     "refuses to delete a funnel with items",
                                     Quoted(c->name),
                                     *items),
                         c->id);
                continue;
            }
            const auto entry = AddEntry(
                ObjectKind::kFunnel,
                Action::kDelete,
                path,
                fmt::format("{} is not in the spec and holds no items; its stages go with it", Quoted(c->name)),
                c->id);
            auto op = NewOp(OpKind::kCategoryDelete,
                            "crm.category.delete",
                            {{"entityTypeId", type.entity_type_id}, {"id", c->id}},
                            entry);
            op.process = process.code;
            op.entity_type_id = type.entity_type_id;
            op.object_id = c->id;
            Push(std::move(op));
        }
    }

    // ---- stages ----------------------------------------------------------------------------------------------

    void Stages(const SmartProcessSpec& process) {
        const auto* type = MatchType(process);
        for (const auto& funnel : process.funnels) {
            const auto funnel_path = fmt::format("{}/{}", process.code, funnel.code);
            const auto it = matched_funnels_.find(funnel_path);
            const PortalCategory* c = it == matched_funnels_.end() ? nullptr : it->second;
            if (type == nullptr || c == nullptr || snap_.stages_read.count(c->id) == 0) {
                // The funnel is being created (or its stages are being read): its stages are planned next time.
                for (const auto& stage : funnel.stages) {
                    const auto* recorded = StoredStage(process.code, funnel.code, stage.code);
                    const auto entry = AddEntry(ObjectKind::kStage,
                                                Missing(recorded != nullptr && c != nullptr),
                                                fmt::format("{}/{}", funnel_path, stage.code),
                                                Quoted(stage.name.Get(Lang())));
                    plan_.entries[entry].deferred = true;
                }
                continue;
            }
            FunnelStages(process, funnel, *type, *c);
        }
    }

    void FunnelStages(const SmartProcessSpec& process,
                      const FunnelSpec& funnel,
                      const PortalType& type,
                      const PortalCategory& c) {
        const auto e = type.entity_type_id;
        const auto portal = snap_.StagesOf(e, c.id);
        const auto funnel_path = fmt::format("{}/{}", process.code, funnel.code);
        // Funnels() recorded every funnel it matched (the only ones whose stages are planned) in the layout.
        auto& layout_funnel = *plan_.layout.FindProcess(process.code)->FindFunnel(funnel.code);
        // Sent in this order within a funnel: updates move the success and failure stages behind the process
        // stages before new process stages arrive (a stage sorted after the success stage is refused), and strays
        // go last, once every semantic group has one of ours (a funnel keeps at least one stage per group).
        std::vector<PlannedOp> updates;
        std::vector<PlannedOp> adds;
        std::vector<PlannedOp> deletes;
        for (const auto& stage : funnel.stages) {
            const auto path = fmt::format("{}/{}", funnel_path, stage.code);
            const auto name = stage.name.Get(Lang());
            const auto found = std::find_if(
                portal.begin(), portal.end(), [&](const PortalStage* s) { return s->Code() == stage.code; });
            const auto* recorded_ids = StoredStage(process.code, funnel.code, stage.code);
            if (found == portal.end()) {
                const auto entry = AddEntry(ObjectKind::kStage, Missing(recorded_ids != nullptr), path, Quoted(name));
                auto op = NewOp(OpKind::kStageAdd,
                                "crm.status.add",
                                {{"fields",
                                  bj::object{{"ENTITY_ID", StageEntityId(e, c.id)},
                                             {"STATUS_ID", stage.code},
                                             {"NAME", name},
                                             {"SORT", stage.sort},
                                             {"COLOR", stage.color},
                                             {"SEMANTICS", SemanticsCode(stage.semantics)}}}},
                                entry);
                op.process = process.code;
                op.funnel = funnel.code;
                op.entity_type_id = e;
                op.category_id = c.id;
                adds.push_back(std::move(op));
                continue;
            }
            const auto* s = *found;
            StageIds ids;
            ids.code = stage.code;
            ids.role = stage.role;
            ids.status_id = s->status_id;
            ids.id = s->id;
            layout_funnel.stages.push_back(std::move(ids));
            const bool recorded = recorded_ids != nullptr && recorded_ids->id == s->id;
            Changes changes;
            changes.Text("name", s->name, name, "NAME");
            changes.Number("sort", s->sort, stage.sort, "SORT");
            if (!SameColor(s->color, stage.color)) {
                changes.Text("color", s->color, stage.color, "COLOR");
            }
            if (s->semantics != stage.semantics) {
                // crm-status-fields.md: SEMANTICS is set at creation only.
                changes.diffs.push_back(
                    fmt::format("semantics {} -> {} cannot change: delete the stage by hand and apply "
                                "again",
                                ToString(s->semantics),
                                ToString(stage.semantics)));
            }
            if (changes.Empty()) {
                AddEntry(ObjectKind::kStage, Action::kUnchanged, path, fmt::format("id={}", s->id), s->id);
                continue;
            }
            const auto entry = AddEntry(ObjectKind::kStage, Changed(recorded), path, Join(changes.diffs), s->id);
            if (changes.fields.empty()) {
                continue;
            }
            auto op = NewOp(OpKind::kStageUpdate,
                            "crm.status.update",
                            {{"id", s->id}, {"fields", std::move(changes.fields)}},
                            entry);
            op.process = process.code;
            op.funnel = funnel.code;
            op.entity_type_id = e;
            op.category_id = c.id;
            op.object_id = s->id;
            updates.push_back(std::move(op));
        }
        for (const auto* s : portal) {
            if (funnel.FindStage(s->Code()) != nullptr) {
                continue;
            }
            const auto path = fmt::format("{}/{}", funnel_path, s->Code());
            if (!process.remove_unlisted_stages) {
                AddEntry(ObjectKind::kStage,
                         Action::kKeep,
                         path,
                         fmt::format("{} is not in the spec (kept: remove_unlisted_stages is off)", Quoted(s->name)),
                         s->id);
                continue;
            }
            const auto key = StageCountKey(s->status_id);
            const auto items = ItemsIn(key, e, bj::object{{"stageId", s->status_id}}, c.id);
            if (!items) {
                Counting(ObjectKind::kStage, path, s->name, s->id);
                continue;
            }
            if (*items == 0) {
                const auto entry = AddEntry(ObjectKind::kStage,
                                            Action::kDelete,
                                            path,
                                            fmt::format("{} is not in the spec and holds no items", Quoted(s->name)),
                                            s->id);
                deletes.push_back(StageDeleteOp(process, funnel, e, c, *s, entry));
                continue;
            }
            // crm-status-delete.md: the portal refuses to delete a stage that holds items.
            const auto* target = funnel.StageWithRole(s->semantics == StageSemantics::kSuccess   ? StageRole::kDone
                                                      : s->semantics == StageSemantics::kFailure ? StageRole::kRejected
                                                                                                 : StageRole::kNew);
            if (!options_.prune || target == nullptr) {
                AddEntry(ObjectKind::kStage,
                         Action::kKeep,
                         path,
                         fmt::format("{} is not in the spec but holds {} items (kept; --prune moves them to {} "
                                     "and deletes the stage)",
                                     Quoted(s->name),
                                     *items,
                                     target != nullptr ? Quoted(target->name.Get(Lang())) : "another stage"),
                         s->id);
                continue;
            }
            const auto note = fmt::format(
                "{} is not in the spec and holds {} items: they move to {} (this stage "
                "stays in their history), then it is deleted",
                Quoted(s->name),
                *items,
                Quoted(target->name.Get(Lang())));
            const auto entry = AddEntry(ObjectKind::kStage, Action::kDelete, path, note, s->id);
            const auto ids = snap_.item_ids.find(key);
            if (ids == snap_.item_ids.end()) {
                auto read = NewOp(OpKind::kListItemIds,
                                  "crm.item.list",
                                  {{"entityTypeId", e},
                                   {"select", bj::array{"id"}},
                                   {"filter", bj::object{{"stageId", s->status_id}}},
                                   {"order", bj::object{{"id", "ASC"}}}},
                                  kNoEntry);
                read.count_key = key;
                count_reads_.push_back(std::move(read));
                continue;
            }
            const auto target_status = StagePrefix(e, c.id) + ":" + target->code;
            for (const auto item : ids->second) {
                // CONTRACT §14.11: categoryId goes with stageId, so the item stays in this funnel.
                auto move = NewOp(OpKind::kItemMove,
                                  "crm.item.update",
                                  {{"entityTypeId", e},
                                   {"id", item},
                                   {"fields", bj::object{{"stageId", target_status}, {"categoryId", c.id}}}},
                                  entry);
                move.entity_type_id = e;
                move.category_id = c.id;
                move.object_id = item;
                move.count_key = key;
                deletes.push_back(std::move(move));
            }
            deletes.push_back(StageDeleteOp(process, funnel, e, c, *s, entry));
        }
        for (auto* group : {&updates, &adds, &deletes}) {
            for (auto& op : *group) {
                Push(std::move(op));
            }
        }
    }

    PlannedOp StageDeleteOp(const SmartProcessSpec& process,
                            const FunnelSpec& funnel,
                            std::int64_t entity_type_id,
                            const PortalCategory& c,
                            const PortalStage& s,
                            std::size_t entry) {
        bj::object params{{"id", s.id}};
        if (s.system) {
            params["params"] = bj::object{{"FORCED", "Y"}};  // crm-status-delete.md: system stages need it
        }
        auto op = NewOp(OpKind::kStageDelete, "crm.status.delete", std::move(params), entry);
        op.process = process.code;
        op.funnel = funnel.code;
        op.entity_type_id = entity_type_id;
        op.category_id = c.id;
        op.object_id = s.id;
        return op;
    }

    // ---- fields ----------------------------------------------------------------------------------------------

    bj::object FieldDefinition(const FieldSpec& field, std::int64_t type_id) const {
        bj::object out{{"entityId", UfEntityId(type_id)},
                       {"fieldName", field.UfName(type_id)},
                       {"userTypeId", ToString(field.type)},
                       {"xmlId", field.code},
                       {"sort", field.sort},
                       {"multiple", YN(field.multiple)},
                       {"mandatory", YN(field.mandatory)},
                       {"showFilter", YN(field.show_filter)},
                       {"isSearchable", YN(field.searchable)},
                       {"editFormLabel", Localized(field.label)}};
        if (!field.settings.empty()) {
            out["settings"] = field.settings;
        }
        if (field.help) {
            out["helpMessage"] = Localized(*field.help);
        }
        if (field.type == FieldType::kEnumeration) {
            bj::array items;
            for (const auto& item : field.items) {
                items.push_back(bj::object{{"value", item.value},
                                           {"def", YN(field.default_item == item.xml_id)},
                                           {"sort", item.sort},
                                           {"xmlId", item.xml_id}});
            }
            out["enum"] = std::move(items);
        }
        return out;
    }

    void Fields(const SmartProcessSpec& process) {
        const auto* type = MatchType(process);
        if (type == nullptr || snap_.fields_read.count(type->id) == 0) {
            for (const auto& field : process.fields) {
                const auto entry =
                    AddEntry(ObjectKind::kField,
                             Missing(StoredField(process.code, field.code) != nullptr && type != nullptr),
                             fmt::format("{}/{}", process.code, field.code),
                             fmt::format("{} {}", ToString(field.type), Quoted(field.label.Get(Lang()))));
                plan_.entries[entry].deferred = true;
            }
            return;
        }
        auto* layout = plan_.layout.FindProcess(process.code);
        std::set<std::string> names;
        for (const auto& field : process.fields) {
            const auto name = field.UfName(type->id);
            names.insert(name);
            const auto path = fmt::format("{}/{}", process.code, field.code);
            const auto* pf = snap_.FieldByName(name);
            const auto* recorded_ids = StoredField(process.code, field.code);
            if (pf == nullptr) {
                const auto entry =
                    AddEntry(ObjectKind::kField,
                             Missing(recorded_ids != nullptr),
                             path,
                             fmt::format("{} {} {}", name, ToString(field.type), Quoted(field.label.Get(Lang()))));
                AddField(process, *type, field, entry);
                continue;
            }
            FieldIds ids;
            ids.code = field.code;
            ids.uf_name = pf->field_name;
            ids.id = pf->id;
            for (const auto& item : pf->enums) {
                if (field.FindItem(item.xml_id) != nullptr) {
                    ids.enum_ids[item.xml_id] = item.id;
                }
            }
            layout->fields.push_back(std::move(ids));
            const bool recorded = recorded_ids != nullptr && recorded_ids->id == pf->id;
            FieldDiff(process, *type, field, *pf, path, recorded);
        }
        for (const auto* pf : snap_.FieldsOf(type->id)) {
            if (names.count(pf->field_name) != 0) {
                continue;
            }
            const auto path = fmt::format("{}/{}", process.code, pf->field_name);
            if (!options_.prune) {
                AddEntry(ObjectKind::kField,
                         Action::kKeep,
                         path,
                         "not in the spec (kept; --prune deletes it with its values)",
                         pf->id);
                continue;
            }
            const auto items = FieldItems(*pf, type->entity_type_id);
            const auto entry = AddEntry(ObjectKind::kField,
                                        Action::kDelete,
                                        path,
                                        items ? fmt::format("not in the spec: --prune deletes it, losing its values in "
                                                            "{} items",
                                                            *items)
                                              : std::string("not in the spec (counting the items holding a value)"),
                                        pf->id);
            if (items) {
                DeleteField(process, *pf, entry);
            }
        }
    }

    void AddField(const SmartProcessSpec& process, const PortalType& type, const FieldSpec& field, std::size_t entry) {
        auto op = NewOp(OpKind::kFieldAdd,
                        "userfieldconfig.add",
                        {{"moduleId", "crm"}, {"field", FieldDefinition(field, type.id)}},
                        entry);
        op.process = process.code;
        op.object_id = type.id;
        Push(std::move(op));
    }

    void DeleteField(const SmartProcessSpec& process, const PortalField& pf, std::size_t entry) {
        auto op = NewOp(OpKind::kFieldDelete, "userfieldconfig.delete", {{"moduleId", "crm"}, {"id", pf.id}}, entry);
        op.process = process.code;
        op.object_id = pf.id;
        Push(std::move(op));
    }

    void FieldDiff(const SmartProcessSpec& process,
                   const PortalType& type,
                   const FieldSpec& field,
                   const PortalField& pf,
                   const std::string& path,
                   bool recorded) {
        // userfieldconfig-add.md: the type and `multiple` cannot change; only deleting the field (and its values)
        // and creating it again can.
        if (pf.user_type_id != ToString(field.type) || pf.multiple != field.multiple) {
            const auto what = fmt::format("type {}{} -> {}{}",
                                          pf.user_type_id,
                                          pf.multiple ? "[]" : "",
                                          ToString(field.type),
                                          field.multiple ? "[]" : "");
            if (!options_.prune) {
                AddEntry(ObjectKind::kField,
                         Action::kDrift,
                         path,
                         what + ": cannot change in place; --prune deletes and recreates it, losing its values",
                         pf.id);
                return;
            }
            const auto items = FieldItems(pf, type.entity_type_id);
            const auto entry =
                AddEntry(ObjectKind::kField,
                         Action::kDrift,
                         path,
                         items ? fmt::format("{}: recreated, losing its values in {} items", what, *items)
                               : what + ": recreated (counting the items holding a value)",
                         pf.id);
            if (items) {
                DeleteField(process, pf, entry);
                AddField(process, type, field, entry);
            }
            return;
        }
        Changes changes;
        changes.Labels("label", field.label, pf.edit_form_label, "editFormLabel");
        if (field.help) {
            changes.Labels("help", *field.help, pf.help_message, "helpMessage");
        }
        changes.Number("sort", pf.sort, field.sort, "sort");
        changes.Flag("mandatory", pf.mandatory, field.mandatory, "mandatory");
        changes.Flag("isSearchable", pf.searchable, field.searchable, "isSearchable");
        if (ShowFilterOn(pf.show_filter) != field.show_filter) {
            // The portal keeps a filter mode ("E", "I", "S", "N"), the spec only on or off.
            changes.diffs.push_back(fmt::format("showFilter {} -> {}", pf.show_filter, YN(field.show_filter)));
            changes.fields["showFilter"] = YN(field.show_filter);
        }
        bool settings_differ = false;
        for (const auto& kv : field.settings) {
            const auto* have = pf.settings.if_contains(kv.key());
            const std::string want = Canonical(kv.value());
            const std::string current = have != nullptr ? Canonical(*have) : "";
            if (have == nullptr || current != want) {
                changes.diffs.push_back(
                    fmt::format("settings.{} {} -> {}", std::string_view(kv.key()), Quoted(current), Quoted(want)));
                settings_differ = true;
            }
        }
        if (settings_differ) {
            bj::object merged = pf.settings;  // settings are replaced as a whole: keep what the portal added
            for (const auto& kv : field.settings) {
                merged[kv.key()] = kv.value();
            }
            changes.fields["settings"] = std::move(merged);
        }
        if (field.type == FieldType::kEnumeration) {
            EnumDiff(field, pf, changes);
        }
        if (changes.Empty()) {
            AddEntry(
                ObjectKind::kField, Action::kUnchanged, path, fmt::format("{} id={}", pf.field_name, pf.id), pf.id);
            return;
        }
        const auto entry = AddEntry(ObjectKind::kField, Changed(recorded), path, Join(changes.diffs), pf.id);
        if (changes.fields.empty()) {
            return;
        }
        auto op = NewOp(OpKind::kFieldUpdate,
                        "userfieldconfig.update",
                        {{"moduleId", "crm"}, {"id", pf.id}, {"field", std::move(changes.fields)}},
                        entry);
        op.process = process.code;
        op.object_id = pf.id;
        Push(std::move(op));
    }

    void EnumDiff(const FieldSpec& field, const PortalField& pf, Changes& changes) {
        bj::array items;
        bool changed = false;
        for (const auto& item : field.items) {
            const bool def = field.default_item == item.xml_id;
            const auto found = std::find_if(
                pf.enums.begin(), pf.enums.end(), [&](const PortalEnumItem& e) { return e.xml_id == item.xml_id; });
            bj::object row{{"value", item.value}, {"def", YN(def)}, {"sort", item.sort}, {"xmlId", item.xml_id}};
            if (found == pf.enums.end()) {
                changes.diffs.push_back(fmt::format("option {} added", Quoted(item.xml_id)));
                changed = true;
            } else {
                row["id"] = found->id;
                if (found->value != item.value) {
                    changes.diffs.push_back(
                        fmt::format("option {} value {} -> {}", item.xml_id, Quoted(found->value), Quoted(item.value)));
                    changed = true;
                }
                if (found->sort != item.sort) {
                    changes.diffs.push_back(
                        fmt::format("option {} sort {} -> {}", item.xml_id, found->sort, item.sort));
                    changed = true;
                }
                if (found->def != def) {
                    changes.diffs.push_back(
                        fmt::format("option {} default {} -> {}", item.xml_id, YN(found->def), YN(def)));
                    changed = true;
                }
            }
            items.push_back(std::move(row));
        }
        for (const auto& e : pf.enums) {
            if (field.FindItem(e.xml_id) != nullptr) {
                continue;
            }
            if (options_.prune) {
                changes.diffs.push_back(
                    fmt::format("option {} ({}) deleted: items holding it lose the value", Quoted(e.value), e.xml_id));
                items.push_back(bj::object{{"id", e.id}, {"del", "Y"}});
                changed = true;
            } else {
                changes.diffs.push_back(
                    fmt::format("option {} is not in the spec (kept; --prune deletes it)", Quoted(e.value)));
            }
        }
        if (changed) {
            // userfieldconfig-update.md: enum changes apply only with userTypeId=enumeration in the same call.
            changes.fields["userTypeId"] = "enumeration";
            changes.fields["enum"] = std::move(items);
        }
    }

    // ---- events and robots -----------------------------------------------------------------------------------

    void Events() {
        for (const auto& binding : spec_.events) {
            const auto event = Upper(binding.event);
            if (!options_.app_context) {
                AddEntry(ObjectKind::kEvent,
                         Action::kManual,
                         event,
                         "an incoming webhook cannot bind events: create the outgoing webhook below");
                continue;
            }
            const auto handler = JoinUrl(options_.public_url, binding.handler);
            const bool bound = std::any_of(snap_.bindings.begin(), snap_.bindings.end(), [&](const PortalBinding& b) {
                return b.event == event && b.handler == handler;
            });
            if (bound) {
                AddEntry(ObjectKind::kEvent, Action::kUnchanged, event, handler);
                continue;
            }
            const auto entry = AddEntry(ObjectKind::kEvent, Action::kCreate, event, handler);
            Push(NewOp(OpKind::kEventBind, "event.bind", {{"event", event}, {"handler", handler}}, entry));
        }
    }

    bj::object RobotProperties(const std::vector<RobotPropertySpec>& properties) const {
        bj::object out;
        for (const auto& p : properties) {
            bj::object prop{{"Name", Localized(p.name)},
                            {"Type", ToString(p.type)},
                            {"Required", YN(p.required)},
                            {"Multiple", YN(p.multiple)}};
            if (p.description) {
                prop["Description"] = Localized(*p.description);
            }
            if (!p.options.empty()) {
                bj::object options;
                for (const auto& [value, title] : p.options) {
                    options[value] = title;
                }
                prop["Options"] = std::move(options);
            }
            if (p.default_value) {
                prop["Default"] = *p.default_value;
            }
            out[p.code] = std::move(prop);
        }
        return out;
    }

    void Robots() {
        for (const auto& robot : spec_.robots) {
            if (!options_.app_context) {
                AddEntry(ObjectKind::kRobot,
                         Action::kManual,
                         robot.code,
                         "robots need the local application: an incoming webhook cannot register them");
                continue;
            }
            const bool registered =
                std::find(snap_.robots.begin(), snap_.robots.end(), robot.code) != snap_.robots.end();
            if (registered) {
                AddEntry(ObjectKind::kRobot,
                         Action::kUnchanged,
                         robot.code,
                         "registered (bizproc.robot.list gives codes only: its settings are not compared)");
                continue;
            }
            const auto handler = JoinUrl(options_.public_url, robot.handler);
            const auto* process = spec_.FindProcess(robot.process);
            const auto* type = process != nullptr ? MatchType(*process) : nullptr;
            const auto entry = AddEntry(ObjectKind::kRobot, Action::kCreate, robot.code, handler);
            if (type == nullptr) {
                plan_.entries[entry].deferred = true;  // DOCUMENT_TYPE needs the new type's entityTypeId
                continue;
            }
            bj::object params{
                {"CODE", robot.code},
                {"HANDLER", handler},
                {"USE_SUBSCRIPTION", YN(robot.use_subscription)},
                {"NAME", Localized(robot.name)},
                {"DOCUMENT_TYPE", bj::array{"crm", kDynamicDocument, fmt::format("DYNAMIC_{}", type->entity_type_id)}}};
            if (robot.description) {
                params["DESCRIPTION"] = Localized(*robot.description);
            }
            if (!robot.properties.empty()) {
                params["PROPERTIES"] = RobotProperties(robot.properties);
            }
            if (!robot.return_properties.empty()) {
                params["RETURN_PROPERTIES"] = RobotProperties(robot.return_properties);
            }
            auto op = NewOp(OpKind::kRobotAdd, "bizproc.robot.add", std::move(params), entry);
            op.process = robot.process;
            Push(std::move(op));
        }
    }

    void Advice() {
        if (!options_.app_context && !spec_.events.empty()) {
            std::map<std::string, std::vector<std::string>> by_handler;
            for (const auto& binding : spec_.events) {
                by_handler[binding.handler].push_back(Upper(binding.event));
            }
            const std::string base = options_.public_url.empty() ? "<dispatchd public_url>" : options_.public_url;
            for (const auto& [handler, events] : by_handler) {
                // local-webhooks.md: an admin creates the outgoing webhook; its application token authenticates
                // what it posts, so dispatchd must know it.
                plan_.advice.push_back(fmt::format(
                    "outgoing webhook (Developer resources > Other > Outgoing webhook): handler URL {}, events {}; "
                    "then give its application token to dispatchd (config portals[].application_token_env)",
                    JoinUrl(base, handler),
                    Join(events, ", ")));
            }
        }
        for (const auto& robot : spec_.robots) {
            if (robot.used_in.empty()) {
                continue;
            }
            std::vector<std::string> places;
            for (const auto& p : robot.used_in) {
                places.push_back(fmt::format("{}/{}/{}", robot.process, p.funnel, p.stage));
            }
            // No documented REST method places a robot on a stage (CONTRACT §11).
            plan_.advice.push_back(
                fmt::format("automation rules: add robot {} to stage {}", robot.code, Join(places, ", ")));
        }
        for (const auto& process : spec_.smart_processes) {
            if (!process.card_layout) {
                continue;
            }
            for (const auto& section : process.card_layout->sections) {
                plan_.advice.push_back(fmt::format("card layout of {}: section {} with {}",
                                                   process.code,
                                                   Quoted(section.title.Get(Lang())),
                                                   Join(section.fields, ", ")));
            }
        }
    }

    const WorkplaceSpec& spec_;
    const PortalSnapshot& snap_;
    const Layout* stored_;
    const PlanOptions& options_;
    Plan plan_;
    std::size_t next_key_ = 0;
    const PortalSolution* workplace_ = nullptr;
    std::string workplace_key_;
    std::size_t workplace_entry_ = kNoEntry;  // set when the workplace's title changes
    std::map<std::string, std::string, std::less<>> new_type_keys_;
    std::map<std::string, const PortalCategory*, std::less<>> matched_funnels_;
    std::vector<PlannedOp> count_reads_;
};

}  // namespace

std::string_view ToString(ObjectKind kind) {
    switch (kind) {
        case ObjectKind::kWorkplace:
            return "workplace";
        case ObjectKind::kType:
            return "type";
        case ObjectKind::kBinding:
            return "binding";
        case ObjectKind::kFunnel:
            return "funnel";
        case ObjectKind::kStage:
            return "stage";
        case ObjectKind::kField:
            return "field";
        case ObjectKind::kEvent:
            return "event";
        case ObjectKind::kRobot:
            return "robot";
    }
    return "?";
}

std::string_view ToString(Action action) {
    switch (action) {
        case Action::kUnchanged:
            return "unchanged";
        case Action::kCreate:
            return "create";
        case Action::kUpdate:
            return "update";
        case Action::kDrift:
            return "drift";
        case Action::kDelete:
            return "delete";
        case Action::kKeep:
            return "keep";
        case Action::kManual:
            return "manual";
    }
    return "?";
}

bool IsWrite(OpKind kind) {
    switch (kind) {
        case OpKind::kListSolutions:
        case OpKind::kListTypes:
        case OpKind::kListBindings:
        case OpKind::kListRobots:
        case OpKind::kListCategories:
        case OpKind::kListStages:
        case OpKind::kListFields:
        case OpKind::kCountItems:
        case OpKind::kListItemIds:
            return false;
        default:
            return true;
    }
}

std::string_view ListKey(OpKind kind) {
    switch (kind) {
        case OpKind::kListSolutions:
            return "automatedSolutions";
        case OpKind::kListTypes:
            return "types";
        case OpKind::kListCategories:
            return "categories";
        case OpKind::kListFields:
            return "fields";
        case OpKind::kListItemIds:
            return "items";
        default:
            return "";
    }
}

bool Plan::HasChanges() const {
    return std::any_of(entries.begin(), entries.end(), [](const PlanEntry& e) {
        return e.action == Action::kCreate || e.action == Action::kUpdate || e.action == Action::kDrift ||
               e.action == Action::kDelete;
    });
}

bool Plan::HasWrites() const {
    return std::any_of(ops.begin(), ops.end(), [](const PlannedOp& op) { return IsWrite(op.kind); });
}

std::size_t Plan::Count(Action action) const {
    return static_cast<std::size_t>(
        std::count_if(entries.begin(), entries.end(), [&](const PlanEntry& e) { return e.action == action; }));
}

Plan MakePlan(const WorkplaceSpec& spec,
              const PortalSnapshot& snapshot,
              const Layout* stored,
              const PlanOptions& options) {
    return Planner(spec, snapshot, stored, options).Run();
}

std::string Summary(const Plan& plan) {
    return fmt::format("create={} update={} drift={} delete={} keep={} manual={} unchanged={}",
                       plan.Count(Action::kCreate),
                       plan.Count(Action::kUpdate),
                       plan.Count(Action::kDrift),
                       plan.Count(Action::kDelete),
                       plan.Count(Action::kKeep),
                       plan.Count(Action::kManual),
                       plan.Count(Action::kUnchanged));
}

std::string FormatPlan(const Plan& plan, bool verbose) {
    std::string out;
    for (const auto& entry : plan.entries) {
        if (entry.action == Action::kUnchanged && !verbose) {
            continue;
        }
        out += fmt::format(
            "  {:<9} {:<9} {:<36} {}\n", ToString(entry.action), ToString(entry.kind), entry.path, entry.note);
    }
    out += fmt::format("plan: {}\n", Summary(plan));
    for (const auto& advice : plan.advice) {
        out += fmt::format("  by hand: {}\n", advice);
    }
    return out;
}

}  // namespace dispatch::provision
