#include "emulator/company.hpp"

#include "core/errc.hpp"
#include "core/json.hpp"

namespace dispatch::emulator {
namespace bj = boost::json;

namespace {

constexpr const char* kTimeZone = "Europe/Moscow";

User MakeUser(
    std::int64_t id, const char* name, const char* last, const char* position, std::int64_t dept, bool admin = false) {
    User u;
    u.id = id;
    u.name = name;
    u.last_name = last;
    u.email = std::string(name) + "." + last + "@example.test";
    for (auto& c : u.email) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    u.work_position = position;
    u.time_zone = kTimeZone;
    u.departments = {dept};
    u.admin = admin;
    return u;
}

}  // namespace

Company DefaultCompany() {
    Company c;
    auto dept =
        [&](std::int64_t id, const char* name, std::optional<std::int64_t> parent, std::optional<std::int64_t> head) {
            c.departments[id] = Department{id, name, 500, parent, head};
        };
    dept(1, "Northwind Trading", std::nullopt, 1);
    dept(2, "IT", 1, 2);
    dept(3, "Help desk: line 1", 2, 11);
    dept(4, "Help desk: line 2", 2, 21);
    dept(5, "1C team", 2, 25);
    constexpr const char* kDepts[] = {
        "Sales", "Accounting", "Warehouse", "Logistics", "HR", "Marketing", "Production", "Legal"};
    for (std::int64_t i = 0; i < 8; ++i) {
        dept(10 + i, kDepts[i], 1, std::nullopt);
    }
    auto add = [&](User u) { c.users[u.id] = std::move(u); };
    add(MakeUser(1, "Alice", "Admin", "Portal administrator", 1, true));
    add(MakeUser(2, "Boris", "Ivanov", "Head of IT", 2, true));
    add(MakeUser(11, "Daria", "Petrova", "Line 1 dispatcher", 3));
    add(MakeUser(12, "Egor", "Smirnov", "Line 1 specialist", 3));
    add(MakeUser(13, "Fedor", "Kuznetsov", "Line 1 specialist", 3));
    add(MakeUser(14, "Galina", "Popova", "Line 1 specialist", 3));
    add(MakeUser(21, "Igor", "Vasiliev", "Line 2 dispatcher", 4));
    add(MakeUser(22, "Kirill", "Sokolov", "Line 2 specialist", 4));
    add(MakeUser(23, "Lidia", "Mikhailova", "Line 2 specialist", 4));
    add(MakeUser(24, "Maxim", "Novikov", "Line 2 specialist", 4));
    add(MakeUser(25, "Nina", "Fedorova", "1C specialist", 5));
    constexpr const char* kFirst[] = {"Oleg",
                                      "Pavel",
                                      "Roman",
                                      "Sergey",
                                      "Taras",
                                      "Ulyana",
                                      "Vera",
                                      "Yana",
                                      "Zoya",
                                      "Artem",
                                      "Bella",
                                      "Denis",
                                      "Elena",
                                      "Filipp",
                                      "Inna",
                                      "Kira"};
    constexpr const char* kLast[] = {"Morozov",
                                     "Volkov",
                                     "Alekseev",
                                     "Lebedev",
                                     "Semenov",
                                     "Egorov",
                                     "Pavlov",
                                     "Kozlov",
                                     "Stepanov",
                                     "Nikolaev",
                                     "Orlov",
                                     "Andreev",
                                     "Makarov",
                                     "Zakharov"};
    for (std::int64_t i = 0; i < 140; ++i) {
        const auto id = 100 + i;
        const auto d = 10 + i % 8;
        add(MakeUser(id, kFirst[i % 16], kLast[(i / 16 + i) % 14], "Employee", d));
        // Unique e-mails even when names repeat.
        c.users[id].email = "user" + std::to_string(id) + "@example.test";
    }
    return c;
}

bj::value CompanyToJson(const Company& company) {
    bj::array deps;
    for (const auto& [id, d] : company.departments) {
        deps.push_back(bj::object{{"id", d.id},
                                  {"name", d.name},
                                  {"sort", d.sort},
                                  {"parent", d.parent ? bj::value(*d.parent) : bj::value(nullptr)},
                                  {"head", d.head ? bj::value(*d.head) : bj::value(nullptr)}});
    }
    bj::array users;
    for (const auto& [id, u] : company.users) {
        bj::array ud;
        for (auto d : u.departments) {
            ud.push_back(d);
        }
        users.push_back(bj::object{{"id", u.id},
                                   {"name", u.name},
                                   {"last_name", u.last_name},
                                   {"email", u.email},
                                   {"work_position", u.work_position},
                                   {"time_zone", u.time_zone},
                                   {"departments", std::move(ud)},
                                   {"active", u.active},
                                   {"admin", u.admin}});
    }
    return bj::object{{"departments", std::move(deps)}, {"users", std::move(users)}};
}

Result<Company> CompanyFromJson(const bj::value& v) {
    Company c;
    const auto* deps = json::Find(v, "departments");
    const auto* users = json::Find(v, "users");
    if (deps == nullptr || !deps->is_array() || users == nullptr || !users->is_array()) {
        return Fail(CoreErrc::kInvalid, "company: `departments` and `users` arrays are required");
    }
    for (std::size_t i = 0; i < deps->get_array().size(); ++i) {
        const auto& d = deps->get_array()[i];
        const auto id = json::IntAt(d, "id");
        if (!id || *id <= 0) {
            return Fail(CoreErrc::kInvalid, json::PathIndex("$.departments", i) + ": id is required");
        }
        Department out{*id,
                       json::StringAt(d, "name").value_or(""),
                       json::IntAt(d, "sort").value_or(500),
                       json::IntAt(d, "parent"),
                       json::IntAt(d, "head")};
        c.departments[*id] = std::move(out);
    }
    for (std::size_t i = 0; i < users->get_array().size(); ++i) {
        const auto& u = users->get_array()[i];
        const auto id = json::IntAt(u, "id");
        if (!id || *id <= 0) {
            return Fail(CoreErrc::kInvalid, json::PathIndex("$.users", i) + ": id is required");
        }
        User out;
        out.id = *id;
        out.name = json::StringAt(u, "name").value_or("");
        out.last_name = json::StringAt(u, "last_name").value_or("");
        out.email = json::StringAt(u, "email").value_or("");
        out.work_position = json::StringAt(u, "work_position").value_or("");
        out.time_zone = json::StringAt(u, "time_zone").value_or(kTimeZone);
        if (const auto* ds = json::Find(u, "departments"); ds && ds->is_array()) {
            for (const auto& d : ds->get_array()) {
                if (auto di = json::ToInt(d)) {
                    out.departments.push_back(*di);
                }
            }
        }
        if (const auto* a = json::Find(u, "active")) {
            out.active = json::ToBool(*a).value_or(true);
        }
        if (const auto* a = json::Find(u, "admin")) {
            out.admin = json::ToBool(*a).value_or(false);
        }
        c.users[*id] = std::move(out);
    }
    return c;
}

}  // namespace dispatch::emulator
