#include "emulator/persistence.hpp"

#include <filesystem>
#include <fstream>

#include "core/errc.hpp"
#include "core/json.hpp"
#include "emulator/company.hpp"

namespace dispatch::emulator {
namespace bj = boost::json;

namespace {

bj::array Ints(const std::vector<std::int64_t>& v) {
    bj::array a;
    for (auto i : v) {
        a.push_back(i);
    }
    return a;
}

std::vector<std::int64_t> ReadInts(const bj::value* v) {
    std::vector<std::int64_t> out;
    if (v != nullptr && v->is_array()) {
        for (const auto& e : v->get_array()) {
            if (auto i = json::ToInt(e)) {
                out.push_back(*i);
            }
        }
    }
    return out;
}

const bj::array& Arr(const bj::value& v, const char* key) {
    static const bj::array kEmpty;
    const auto* a = json::Find(v, key);
    return a && a->is_array() ? a->get_array() : kEmpty;
}

std::int64_t I(const bj::value& v, const char* key) { return json::IntAt(v, key).value_or(0); }
std::string S(const bj::value& v, const char* key) { return json::StringAt(v, key).value_or(""); }
bool B(const bj::value& v, const char* key) {
    const auto* x = json::Find(v, key);
    return x && json::ToBool(*x).value_or(false);
}
bj::value V(const bj::value& v, const char* key) {
    const auto* x = json::Find(v, key);
    return x ? *x : bj::value(nullptr);
}

}  // namespace

bj::value StateToJson(const PortalState& st) {
    bj::object o;
    o["version"] = 1;
    o["member_id"] = st.member_id;
    o["seq"] = st.seq;
    Company company{st.users, st.departments};
    o["company"] = CompanyToJson(company);
    bj::array a;
    for (const auto& [id, s] : st.solutions) {
        a.push_back(bj::object{{"id", s.id}, {"title", s.title}, {"type_ids", Ints(s.type_ids)}});
    }
    o["solutions"] = std::move(a);
    a = {};
    for (const auto& [id, t] : st.types) {
        a.push_back(bj::object{{"id", t.id},
                               {"entity_type_id", t.entity_type_id},
                               {"title", t.title},
                               {"code", t.code},
                               {"flags", t.flags},
                               {"relations", t.relations},
                               {"linked_user_fields", t.linked_user_fields},
                               {"created_by", t.created_by},
                               {"updated_by", t.updated_by},
                               {"created_time", t.created_time},
                               {"updated_time", t.updated_time}});
    }
    o["types"] = std::move(a);
    a = {};
    for (const auto& [id, c] : st.categories) {
        a.push_back(bj::object{{"id", c.id},
                               {"entity_type_id", c.entity_type_id},
                               {"name", c.name},
                               {"sort", c.sort},
                               {"is_default", c.is_default},
                               {"is_system", c.is_system},
                               {"code", c.code}});
    }
    o["categories"] = std::move(a);
    a = {};
    for (const auto& [id, s] : st.stages) {
        a.push_back(bj::object{{"id", s.id},
                               {"entity_id", s.entity_id},
                               {"status_id", s.status_id},
                               {"name", s.name},
                               {"name_init", s.name_init},
                               {"sort", s.sort},
                               {"system", s.system},
                               {"category_id", s.category_id},
                               {"color", s.color},
                               {"semantics", s.semantics}});
    }
    o["stages"] = std::move(a);
    a = {};
    for (const auto& [id, f] : st.user_fields) {
        bj::array enums;
        for (const auto& e : f.enums) {
            enums.push_back(
                bj::object{{"id", e.id}, {"value", e.value}, {"def", e.def}, {"sort", e.sort}, {"xml_id", e.xml_id}});
        }
        a.push_back(bj::object{{"id", f.id},
                               {"entity_id", f.entity_id},
                               {"field_name", f.field_name},
                               {"user_type_id", f.user_type_id},
                               {"xml_id", f.xml_id},
                               {"sort", f.sort},
                               {"multiple", f.multiple},
                               {"mandatory", f.mandatory},
                               {"show_filter", f.show_filter},
                               {"show_in_list", f.show_in_list},
                               {"edit_in_list", f.edit_in_list},
                               {"is_searchable", f.is_searchable},
                               {"settings", f.settings},
                               {"edit_form_label", f.edit_form_label},
                               {"help_message", f.help_message},
                               {"enums", std::move(enums)}});
    }
    o["user_fields"] = std::move(a);
    a = {};
    for (const auto& [e, items] : st.items) {
        for (const auto& [id, item] : items) {
            a.push_back(bj::object{{"id", item.id}, {"entity_type_id", item.entity_type_id}, {"values", item.values}});
        }
    }
    o["items"] = std::move(a);
    bj::object seqs;
    for (const auto& [e, s] : st.item_seq) {
        seqs[std::to_string(e)] = s;
    }
    o["item_seq"] = std::move(seqs);
    a = {};
    for (const auto& h : st.stage_history) {
        a.push_back(bj::object{{"id", h.id},
                               {"entity_type_id", h.entity_type_id},
                               {"type_id", h.type_id},
                               {"owner_id", h.owner_id},
                               {"created_time", h.created_time},
                               {"category_id", h.category_id},
                               {"stage_semantic_id", h.stage_semantic_id},
                               {"stage_id", h.stage_id}});
    }
    o["stage_history"] = std::move(a);
    a = {};
    for (const auto& c : st.comments) {
        a.push_back(bj::object{{"id", c.id},
                               {"entity_type", c.entity_type},
                               {"entity_id", c.entity_id},
                               {"comment", c.comment},
                               {"author_id", c.author_id},
                               {"created", c.created}});
    }
    o["comments"] = std::move(a);
    a = {};
    for (const auto& n : st.notifications) {
        a.push_back(bj::object{{"id", n.id},
                               {"kind", n.kind},
                               {"from_user", n.from_user},
                               {"to_user", n.to_user},
                               {"message", n.message},
                               {"tag", n.tag},
                               {"created", n.created}});
    }
    o["notifications"] = std::move(a);
    a = {};
    for (const auto& w : st.webhooks) {
        a.push_back(bj::object{{"user_id", w.user_id}, {"secret", w.secret}});
    }
    o["webhooks"] = std::move(a);
    o["app"] = bj::object{{"client_id", st.app.client_id},
                          {"client_secret", st.app.client_secret},
                          {"install_handler", st.app.install_handler},
                          {"application_token", st.app.application_token},
                          {"scope", st.app.scope},
                          {"installed", st.app.installed}};
    bj::object tokens;
    for (const auto& [t, v] : st.access_tokens) {
        tokens[t] = bj::object{{"user_id", v.user_id}, {"expires", v.expires}};
    }
    o["access_tokens"] = std::move(tokens);
    bj::object refresh;
    for (const auto& [t, v] : st.refresh_tokens) {
        refresh[t] = bj::object{{"user_id", v.user_id}, {"expires", v.expires}};
    }
    o["refresh_tokens"] = std::move(refresh);
    a = {};
    for (const auto& [id, b] : st.bindings) {
        a.push_back(bj::object{{"id", b.id}, {"event", b.event}, {"handler", b.handler}, {"auth_type", b.auth_type}});
    }
    o["bindings"] = std::move(a);
    a = {};
    for (const auto& [code, r] : st.robots) {
        a.push_back(bj::object{{"code", r.code},
                               {"handler", r.handler},
                               {"auth_user_id", r.auth_user_id},
                               {"use_subscription", r.use_subscription},
                               {"name", r.name},
                               {"properties", r.properties},
                               {"return_properties", r.return_properties},
                               {"document_type", r.document_type}});
    }
    o["robots"] = std::move(a);
    a = {};
    for (const auto& p : st.placements) {
        a.push_back(bj::object{{"code", p.code}, {"stage_id", p.stage_id}, {"properties", p.properties}});
    }
    o["placements"] = std::move(a);
    a = {};
    for (const auto& [t, r] : st.robot_runs) {
        a.push_back(bj::object{{"event_token", r.event_token},
                               {"workflow_id", r.workflow_id},
                               {"code", r.code},
                               {"entity_type_id", r.entity_type_id},
                               {"item_id", r.item_id},
                               {"answered", r.answered},
                               {"return_values", r.return_values},
                               {"log_message", r.log_message}});
    }
    o["robot_runs"] = std::move(a);
    a = {};
    for (const auto& [code, t] : st.triggers) {
        a.push_back(bj::object{{"code", t.code}, {"name", t.name}});
    }
    o["triggers"] = std::move(a);
    a = {};
    for (const auto& p : st.trigger_placements) {
        a.push_back(bj::object{{"code", p.code}, {"stage_id", p.stage_id}});
    }
    o["trigger_placements"] = std::move(a);
    return o;
}

Result<PortalState> StateFromJson(const bj::value& v) {
    if (!v.is_object() || json::IntAt(v, "version").value_or(0) != 1) {
        return Fail(CoreErrc::kInvalid, "state: not a version 1 emulator state document");
    }
    PortalState st;
    st.member_id = S(v, "member_id");
    st.seq = I(v, "seq");
    if (const auto* c = json::Find(v, "company")) {
        auto company = CompanyFromJson(*c);
        if (!company) {
            return company.error();
        }
        st.users = std::move(company->users);
        st.departments = std::move(company->departments);
    }
    for (const auto& x : Arr(v, "solutions")) {
        st.solutions[I(x, "id")] = AutomatedSolution{I(x, "id"), S(x, "title"), ReadInts(json::Find(x, "type_ids"))};
    }
    for (const auto& x : Arr(v, "types")) {
        SpaType t;
        t.id = I(x, "id");
        t.entity_type_id = I(x, "entity_type_id");
        t.title = S(x, "title");
        t.code = S(x, "code");
        if (const auto* f = json::Find(x, "flags"); f && f->is_object()) {
            t.flags = f->get_object();
        }
        t.relations = V(x, "relations");
        t.linked_user_fields = V(x, "linked_user_fields");
        t.created_by = I(x, "created_by");
        t.updated_by = I(x, "updated_by");
        t.created_time = I(x, "created_time");
        t.updated_time = I(x, "updated_time");
        st.types[t.id] = std::move(t);
    }
    for (const auto& x : Arr(v, "categories")) {
        st.categories[I(x, "id")] = Category{I(x, "id"),
                                             I(x, "entity_type_id"),
                                             S(x, "name"),
                                             I(x, "sort"),
                                             B(x, "is_default"),
                                             B(x, "is_system"),
                                             S(x, "code")};
    }
    for (const auto& x : Arr(v, "stages")) {
        st.stages[I(x, "id")] = Stage{I(x, "id"),
                                      S(x, "entity_id"),
                                      S(x, "status_id"),
                                      S(x, "name"),
                                      S(x, "name_init"),
                                      I(x, "sort"),
                                      B(x, "system"),
                                      I(x, "category_id"),
                                      S(x, "color"),
                                      S(x, "semantics")};
    }
    for (const auto& x : Arr(v, "user_fields")) {
        UserField f;
        f.id = I(x, "id");
        f.entity_id = S(x, "entity_id");
        f.field_name = S(x, "field_name");
        f.user_type_id = S(x, "user_type_id");
        f.xml_id = S(x, "xml_id");
        f.sort = I(x, "sort");
        f.multiple = B(x, "multiple");
        f.mandatory = B(x, "mandatory");
        f.show_filter = S(x, "show_filter");
        f.show_in_list = S(x, "show_in_list");
        f.edit_in_list = S(x, "edit_in_list");
        f.is_searchable = S(x, "is_searchable");
        f.settings = V(x, "settings");
        f.edit_form_label = V(x, "edit_form_label");
        f.help_message = V(x, "help_message");
        for (const auto& e : Arr(x, "enums")) {
            f.enums.push_back(EnumOption{I(e, "id"), S(e, "value"), B(e, "def"), I(e, "sort"), S(e, "xml_id")});
        }
        st.user_fields[f.id] = std::move(f);
    }
    for (const auto& x : Arr(v, "items")) {
        Item item;
        item.id = I(x, "id");
        item.entity_type_id = I(x, "entity_type_id");
        if (const auto* vals = json::Find(x, "values"); vals && vals->is_object()) {
            item.values = vals->get_object();
        }
        st.items[item.entity_type_id][item.id] = std::move(item);
    }
    if (const auto* seqs = json::Find(v, "item_seq"); seqs && seqs->is_object()) {
        for (const auto& kv : seqs->get_object()) {
            st.item_seq[json::ParseInt(std::string_view(kv.key().data(), kv.key().size())).value_or(0)] =
                json::ToInt(kv.value()).value_or(0);
        }
    }
    for (const auto& x : Arr(v, "stage_history")) {
        st.stage_history.push_back(StageHistoryEntry{I(x, "id"),
                                                     I(x, "entity_type_id"),
                                                     static_cast<int>(I(x, "type_id")),
                                                     I(x, "owner_id"),
                                                     I(x, "created_time"),
                                                     I(x, "category_id"),
                                                     S(x, "stage_semantic_id"),
                                                     S(x, "stage_id")});
    }
    for (const auto& x : Arr(v, "comments")) {
        st.comments.push_back(TimelineComment{
            I(x, "id"), S(x, "entity_type"), I(x, "entity_id"), S(x, "comment"), I(x, "author_id"), I(x, "created")});
    }
    for (const auto& x : Arr(v, "notifications")) {
        st.notifications.push_back(Notification{I(x, "id"),
                                                S(x, "kind"),
                                                I(x, "from_user"),
                                                I(x, "to_user"),
                                                S(x, "message"),
                                                S(x, "tag"),
                                                I(x, "created")});
    }
    for (const auto& x : Arr(v, "webhooks")) {
        st.webhooks.push_back(Webhook{I(x, "user_id"), S(x, "secret")});
    }
    if (const auto* app = json::Find(v, "app")) {
        st.app = LocalApp{S(*app, "client_id"),
                          S(*app, "client_secret"),
                          S(*app, "install_handler"),
                          S(*app, "application_token"),
                          S(*app, "scope"),
                          B(*app, "installed")};
    }
    if (const auto* t = json::Find(v, "access_tokens"); t && t->is_object()) {
        for (const auto& kv : t->get_object()) {
            st.access_tokens[std::string(kv.key())] = AccessToken{I(kv.value(), "user_id"), I(kv.value(), "expires")};
        }
    }
    if (const auto* t = json::Find(v, "refresh_tokens"); t && t->is_object()) {
        for (const auto& kv : t->get_object()) {
            st.refresh_tokens[std::string(kv.key())] = RefreshToken{I(kv.value(), "user_id"), I(kv.value(), "expires")};
        }
    }
    for (const auto& x : Arr(v, "bindings")) {
        st.bindings[I(x, "id")] = EventBinding{I(x, "id"), S(x, "event"), S(x, "handler"), I(x, "auth_type")};
    }
    for (const auto& x : Arr(v, "robots")) {
        st.robots[S(x, "code")] = Robot{S(x, "code"),
                                        S(x, "handler"),
                                        I(x, "auth_user_id"),
                                        B(x, "use_subscription"),
                                        V(x, "name"),
                                        V(x, "properties"),
                                        V(x, "return_properties"),
                                        S(x, "document_type")};
    }
    for (const auto& x : Arr(v, "placements")) {
        RobotPlacement p{S(x, "code"), S(x, "stage_id"), {}};
        if (const auto* props = json::Find(x, "properties"); props && props->is_object()) {
            p.properties = props->get_object();
        }
        st.placements.push_back(std::move(p));
    }
    for (const auto& x : Arr(v, "robot_runs")) {
        RobotRun r{S(x, "event_token"),
                   S(x, "workflow_id"),
                   S(x, "code"),
                   I(x, "entity_type_id"),
                   I(x, "item_id"),
                   B(x, "answered"),
                   V(x, "return_values"),
                   S(x, "log_message")};
        st.robot_runs[r.event_token] = std::move(r);
    }
    for (const auto& x : Arr(v, "triggers")) {
        st.triggers[S(x, "code")] = Trigger{S(x, "code"), S(x, "name")};
    }
    for (const auto& x : Arr(v, "trigger_placements")) {
        st.trigger_placements.push_back(TriggerPlacement{S(x, "code"), S(x, "stage_id")});
    }
    return st;
}

Result<void> SaveState(const PortalState& state, const std::string& path) {
    // Write next to the target and rename, so a crash mid-write never leaves half a state file.
    const auto tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) {
            return Fail(CoreErrc::kIo, "cannot write " + tmp);
        }
        out << json::Dump(StateToJson(state));
        if (!out) {
            return Fail(CoreErrc::kIo, "cannot write " + tmp);
        }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        return Fail(CoreErrc::kIo, "cannot rename " + tmp + ": " + ec.message());
    }
    return {};
}

Result<PortalState> LoadState(const std::string& path) {
    auto v = json::ParseFile(path);
    if (!v) {
        return v.error();
    }
    return StateFromJson(*v);
}

}  // namespace dispatch::emulator
