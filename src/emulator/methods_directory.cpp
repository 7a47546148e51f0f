// user.get, user.current, department.get (CONTRACT §12.3), im.notify.system/personal.add (§12.2),
// crm.timeline.comment.add (§12.1).
#include <algorithm>
#include <cctype>

#include "core/json.hpp"
#include "emulator/filter.hpp"
#include "emulator/methods.hpp"

namespace dispatch::emulator {
namespace bj = boost::json;

namespace {

bj::object RenderUser(const User& u) {
    bj::array deps;
    for (auto d : u.departments) {
        deps.push_back(d);
    }
    // user-get.md: ID is a string, ACTIVE a bool, UF_DEPARTMENT ints.
    return bj::object{{"ID", std::to_string(u.id)},
                      {"XML_ID", ""},
                      {"ACTIVE", u.active},
                      {"NAME", u.name},
                      {"LAST_NAME", u.last_name},
                      {"SECOND_NAME", ""},
                      {"EMAIL", u.email},
                      {"TIME_ZONE", u.time_zone},
                      {"IS_ONLINE", "N"},
                      {"UF_DEPARTMENT", std::move(deps)},
                      {"USER_TYPE", "employee"},
                      {"WORK_POSITION", u.work_position}};
}

bj::object UserRow(const User& u) {
    bj::array deps;
    for (auto d : u.departments) {
        deps.push_back(d);
    }
    return bj::object{{"ID", u.id},
                      {"ACTIVE", u.active ? "Y" : "N"},
                      {"NAME", u.name},
                      {"LAST_NAME", u.last_name},
                      {"EMAIL", u.email},
                      {"TIME_ZONE", u.time_zone},
                      {"UF_DEPARTMENT", std::move(deps)},
                      {"USER_TYPE", "employee"},
                      {"WORK_POSITION", u.work_position},
                      {"IS_ONLINE", "N"}};
}

std::string Upper(std::string_view s) {
    std::string out(s);
    std::transform(
        out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return out;
}

std::optional<FilterField> UserField_(std::string_view name) {
    const auto n = Upper(name);
    if (n == "ID") {
        return FilterField{"ID", ValueKind::kInt, false};
    }
    if (n == "UF_DEPARTMENT") {
        return FilterField{"UF_DEPARTMENT", ValueKind::kInt, true};
    }
    if (n == "ACTIVE" || n == "NAME" || n == "LAST_NAME" || n == "EMAIL" || n == "TIME_ZONE" || n == "USER_TYPE" ||
        n == "WORK_POSITION" || n == "IS_ONLINE") {
        return FilterField{n, ValueKind::kString, false};
    }
    return std::nullopt;
}

MethodReply UserGet(CallContext& ctx, const bj::object& p) {
    // user-get.md: filter under FILTER/filter, and examples also pass filter keys at the top level.
    bj::object filter;
    if (const auto* f = ObjectParam(p, "filter")) {
        filter = *f;
    }
    std::string name_search;
    for (const auto& kv : p) {
        const auto key = Upper(std::string_view(kv.key().data(), kv.key().size()));
        if (key == "FILTER" || key == "SORT" || key == "ORDER" || key == "START" || key == "SELECT" ||
            key == "ADMIN_MODE" || key == "IMAGE_RESIZE") {
            continue;
        }
        filter[kv.key()] = kv.value();
    }
    for (auto it = filter.begin(); it != filter.end();) {
        if (Upper(std::string_view(it->key().data(), it->key().size())) == "NAME_SEARCH") {
            name_search = json::ToString(it->value()).value_or("");
            it = filter.erase(it);
        } else {
            ++it;
        }
    }
    bj::value order = nullptr;
    const auto sort = StringParam(p, "sort");
    if (sort && UserField_(*sort)) {
        order = bj::object{{*sort, StringParam(p, "order").value_or("ASC")}};
    }
    const bj::value fv(std::move(filter));
    auto query = ParseListQuery(&fv, &order, UserField_, "ID");
    if (auto* e = std::get_if<ApiError>(&query)) {
        return *e;
    }
    std::vector<bj::object> rows;
    for (const auto& [id, u] : ctx.portal.State().users) {
        if (!name_search.empty()) {
            const auto full = Upper(u.name + " " + u.last_name);
            if (full.find(Upper(name_search)) == std::string::npos) {
                continue;
            }
        }
        rows.push_back(UserRow(u));
    }
    const auto hits = std::get<ListQuery>(query).Select(rows);
    return Paginate(hits.size(), ParseStart(Param(p, "start")), nullptr, [&](std::size_t i) {
        return bj::value(RenderUser(ctx.portal.State().users.at(hits[i]->at("ID").as_int64())));
    });
}

MethodReply UserCurrent(CallContext& ctx, const bj::object&) {
    const auto* u = ctx.portal.FindUser(ctx.caller.user_id);
    if (u == nullptr) {
        return Err(401, "NO_AUTH_FOUND", "Wrong authorization data");
    }
    return bj::value(RenderUser(*u));
}

std::optional<FilterField> DepartmentField(std::string_view name) {
    const auto n = Upper(name);
    if (n == "ID" || n == "SORT" || n == "PARENT" || n == "UF_HEAD") {
        return FilterField{n, ValueKind::kInt, false};
    }
    if (n == "NAME") {
        return FilterField{n, ValueKind::kString, false};
    }
    return std::nullopt;
}

MethodReply DepartmentGet(CallContext& ctx, const bj::object& p) {
    // department-get.md: filters are top-level params (ID, NAME, SORT, PARENT, UF_HEAD), paging by START.
    bj::object filter;
    for (const auto& kv : p) {
        const auto key = Upper(std::string_view(kv.key().data(), kv.key().size()));
        if (key != "START" && key != "SORT" && key != "ORDER" && DepartmentField(key)) {
            filter[key] = kv.value();
        }
    }
    bj::value order = nullptr;
    if (auto sort = StringParam(p, "sort"); sort && DepartmentField(*sort)) {
        order = bj::object{{*sort, StringParam(p, "order").value_or("ASC")}};
    }
    const bj::value fv(std::move(filter));
    auto query = ParseListQuery(&fv, &order, DepartmentField, "ID");
    if (auto* e = std::get_if<ApiError>(&query)) {
        return *e;
    }
    std::vector<bj::object> rows;
    for (const auto& [id, d] : ctx.portal.State().departments) {
        bj::object row{{"ID", d.id}, {"NAME", d.name}, {"SORT", d.sort}};
        row["PARENT"] = d.parent ? bj::value(*d.parent) : bj::value(nullptr);
        row["UF_HEAD"] = d.head ? bj::value(*d.head) : bj::value(nullptr);
        rows.push_back(std::move(row));
    }
    const auto hits = std::get<ListQuery>(query).Select(rows);
    return Paginate(hits.size(), ParseStart(Param(p, "START")), nullptr, [&](std::size_t i) {
        const auto& d = ctx.portal.State().departments.at(hits[i]->at("ID").as_int64());
        bj::object out{{"ID", std::to_string(d.id)}, {"NAME", d.name}, {"SORT", d.sort}};
        if (d.parent) {
            out["PARENT"] = std::to_string(*d.parent);
        }
        if (d.head) {
            out["UF_HEAD"] = std::to_string(*d.head);
        }
        return bj::value(std::move(out));
    });
}

MethodReply NotifyAdd(CallContext& ctx, const bj::object& p, const char* kind) {
    const auto to = IntParam(p, "USER_ID").value_or(0);
    if (to <= 0 || ctx.portal.FindUser(to) == nullptr) {
        return Err(400, "USER_ID_EMPTY", "Recipient ID can't be empty");
    }
    auto message = StringParam(p, "MESSAGE").value_or("");
    const auto first = message.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) {
        return Err(400, "MESSAGE_EMPTY", "Message text can't be empty");
    }
    message = message.substr(first, message.find_last_not_of(" \t\r\n") - first + 1);
    if (const auto* attach = Param(p, "ATTACH")) {
        const auto text = attach->is_string() ? std::string(attach->get_string()) : json::Dump(*attach);
        if (text.size() > 60000) {
            return Err(400, "ATTACH_OVERSIZE", "You have exceeded the maximum allowable size of attachments");
        }
        // im-notify-system-add.md: an object, or a JSON string of one; anything else is ATTACH_ERROR.
        const auto parsed = attach->is_string() ? json::Parse(text) : Result<bj::value>(*attach);
        if (!parsed || !(parsed->is_object() || parsed->is_array())) {
            return Err(400, "ATTACH_ERROR", "Incorrect attachment parameters");
        }
    }
    auto& notes = ctx.portal.State().notifications;
    const auto tag = StringParam(p, "TAG").value_or("");
    if (!tag.empty()) {
        // im-notify-system-add.md: a new notification with the same tag removes older ones.
        std::erase_if(notes, [&](const Notification& n) { return n.tag == tag && n.to_user == to; });
    }
    Notification n;
    n.id = ctx.portal.NextId();
    n.kind = kind;
    n.from_user = std::string_view(kind) == "personal" ? ctx.caller.user_id : 0;
    n.to_user = to;
    n.message = std::move(message);
    n.tag = tag;
    n.created = ctx.portal.NowSeconds();
    const auto id = n.id;
    notes.push_back(std::move(n));
    return bj::value(id);
}

MethodReply CommentAdd(CallContext& ctx, const bj::object& p) {
    // crm-timeline-comment-add.md: the key must be lower-case `fields` since crm 23.100.0.
    const auto* fv = p.if_contains("fields");
    if (fv == nullptr || !fv->is_object()) {
        return MissingParam("fields");
    }
    const auto& f = *fv;
    const auto entity_id = json::IntAt(f, "ENTITY_ID");
    auto entity_type = json::StringAt(f, "ENTITY_TYPE");
    if (!entity_id) {
        return MissingParam("ENTITY_ID");
    }
    if (!entity_type || entity_type->empty()) {
        return MissingParam("ENTITY_TYPE");
    }
    std::transform(entity_type->begin(), entity_type->end(), entity_type->begin(), [](unsigned char c) {
        return static_cast<char>(std::tolower(c));
    });
    bool known = *entity_type == "lead" || *entity_type == "deal" || *entity_type == "contact" ||
                 *entity_type == "company" || *entity_type == "order";
    if (entity_type->rfind("dynamic_", 0) == 0) {
        const auto e = json::ParseInt(std::string_view(*entity_type).substr(8));
        known = e && ctx.portal.TypeByEntityTypeId(*e) != nullptr;
    }
    if (!known) {
        return Err(400, "OWNER_NOT_FOUND", "Owner entity not found");
    }
    const auto comment = json::StringAt(f, "COMMENT").value_or("");
    if (comment.find_first_not_of(" \t\r\n") == std::string::npos) {
        return Err(400, "INVALID_ARG_VALUE", "Comment text is empty");
    }
    // CONTRACT §14.16: the tutorial says ENTITY_ID is not checked; we follow it (README).
    TimelineComment c;
    c.id = ctx.portal.NextId();
    c.entity_type = *entity_type;
    c.entity_id = *entity_id;
    c.comment = comment;
    c.author_id = json::IntAt(f, "AUTHOR_ID").value_or(ctx.caller.user_id);
    c.created = ctx.portal.NowSeconds();
    const auto id = c.id;
    ctx.portal.State().comments.push_back(std::move(c));
    return bj::value(id);
}

}  // namespace

void RegisterDirectoryMethods(MethodMap& m) {
    m["user.get"] = {"user", false, UserGet};
    m["user.current"] = {"user", false, UserCurrent};
    m["department.get"] = {"department", false, DepartmentGet};
    m["im.notify.system.add"] = {
        "im", false, [](CallContext& c, const bj::object& p) { return NotifyAdd(c, p, "system"); }};
    m["im.notify.personal.add"] = {
        "im", false, [](CallContext& c, const bj::object& p) { return NotifyAdd(c, p, "personal"); }};
    m["crm.timeline.comment.add"] = {"crm", false, CommentAdd};
}

}  // namespace dispatch::emulator
