#include "provision/layout.hpp"

#include <fmt/format.h>

#include <utility>

#include "core/errc.hpp"
#include "core/json.hpp"

namespace dispatch::provision {

namespace bj = boost::json;

namespace {

// Bumped when a member changes meaning; FromJson refuses versions it does not know rather than guessing.
constexpr std::int64_t kLayoutVersion = 1;

// Collects every problem of a stored layout with its JSON path, so a broken row is diagnosed in one read.
class Reader {
public:
    std::int64_t Int(const bj::value& v, std::string_view key, const std::string& path) {
        const auto value = json::IntAt(v, key);
        if (!value) {
            Problem(json::PathKey(path, key), "missing or not an integer");
            return 0;
        }
        return *value;
    }
    std::string String(const bj::value& v, std::string_view key, const std::string& path) {
        const auto* found = json::Find(v, key);
        if (found == nullptr || !found->is_string()) {
            Problem(json::PathKey(path, key), "missing or not a string");
            return {};
        }
        return std::string(found->as_string());
    }
    bool Bool(const bj::value& v, std::string_view key, const std::string& path) {
        const auto* found = json::Find(v, key);
        if (found == nullptr || !found->is_bool()) {
            Problem(json::PathKey(path, key), "missing or not a boolean");
            return false;
        }
        return found->as_bool();
    }
    const bj::array* Array(const bj::value& v, std::string_view key, const std::string& path) {
        const auto* found = json::Find(v, key);
        if (found == nullptr || !found->is_array()) {
            Problem(json::PathKey(path, key), "missing or not an array");
            return nullptr;
        }
        return &found->as_array();
    }
    void Problem(std::string path, std::string_view reason) {
        if (!detail_.empty()) {
            detail_ += "; ";
        }
        detail_ += fmt::format("{}: {}", path, reason);
    }
    const std::string& Detail() const { return detail_; }

private:
    std::string detail_;
};

StageIds ReadStage(Reader& r, const bj::value& v, const std::string& path) {
    StageIds s;
    s.code = r.String(v, "code", path);
    const auto role_text = r.String(v, "role", path);
    if (const auto role = ParseStageRole(role_text)) {
        s.role = *role;
    } else if (!role_text.empty()) {
        r.Problem(json::PathKey(path, "role"), fmt::format("unknown stage role '{}'", role_text));
    }
    s.status_id = r.String(v, "status_id", path);
    s.id = r.Int(v, "id", path);
    return s;
}

FunnelIds ReadFunnel(Reader& r, const bj::value& v, const std::string& path) {
    FunnelIds f;
    f.code = r.String(v, "code", path);
    f.category_id = r.Int(v, "category_id", path);
    f.is_default = r.Bool(v, "is_default", path);
    if (const auto* stages = r.Array(v, "stages", path)) {
        const auto stages_path = json::PathKey(path, "stages");
        for (std::size_t i = 0; i < stages->size(); ++i) {
            f.stages.push_back(ReadStage(r, (*stages)[i], json::PathIndex(stages_path, i)));
        }
    }
    return f;
}

FieldIds ReadField(Reader& r, const bj::value& v, const std::string& path) {
    FieldIds f;
    f.code = r.String(v, "code", path);
    f.uf_name = r.String(v, "uf_name", path);
    f.id = r.Int(v, "id", path);
    if (const auto* items = json::Find(v, "enum_ids")) {
        const auto items_path = json::PathKey(path, "enum_ids");
        if (!items->is_object()) {
            r.Problem(items_path, "not an object");
        } else {
            for (const auto& item : items->as_object()) {
                const auto id = json::ToInt(item.value());
                if (!id) {
                    r.Problem(json::PathKey(items_path, item.key()), "not an integer");
                    continue;
                }
                f.enum_ids.emplace(std::string(item.key()), *id);
            }
        }
    }
    return f;
}

ProcessIds ReadProcess(Reader& r, const bj::value& v, const std::string& path) {
    ProcessIds p;
    p.code = r.String(v, "code", path);
    p.type_id = r.Int(v, "type_id", path);
    p.entity_type_id = r.Int(v, "entity_type_id", path);
    if (const auto* funnels = r.Array(v, "funnels", path)) {
        const auto funnels_path = json::PathKey(path, "funnels");
        for (std::size_t i = 0; i < funnels->size(); ++i) {
            p.funnels.push_back(ReadFunnel(r, (*funnels)[i], json::PathIndex(funnels_path, i)));
        }
    }
    if (const auto* fields = r.Array(v, "fields", path)) {
        const auto fields_path = json::PathKey(path, "fields");
        for (std::size_t i = 0; i < fields->size(); ++i) {
            p.fields.push_back(ReadField(r, (*fields)[i], json::PathIndex(fields_path, i)));
        }
    }
    return p;
}

}  // namespace

const FunnelIds* ProcessIds::FindFunnel(std::string_view code) const {
    for (const auto& funnel : funnels) {
        if (funnel.code == code) {
            return &funnel;
        }
    }
    return nullptr;
}

FunnelIds* ProcessIds::FindFunnel(std::string_view code) {
    return const_cast<FunnelIds*>(std::as_const(*this).FindFunnel(code));
}

const FunnelIds* ProcessIds::FunnelByCategory(std::int64_t category_id) const {
    for (const auto& funnel : funnels) {
        if (funnel.category_id == category_id) {
            return &funnel;
        }
    }
    return nullptr;
}

const FieldIds* ProcessIds::FindField(std::string_view code) const {
    for (const auto& field : fields) {
        if (field.code == code) {
            return &field;
        }
    }
    return nullptr;
}

const StageIds* ProcessIds::StageByStatusId(std::string_view status_id, const FunnelIds** funnel) const {
    for (const auto& f : funnels) {
        for (const auto& stage : f.stages) {
            if (stage.status_id == status_id) {
                if (funnel != nullptr) {
                    *funnel = &f;
                }
                return &stage;
            }
        }
    }
    if (funnel != nullptr) {
        *funnel = nullptr;
    }
    return nullptr;
}

std::string ProcessIds::StatusIdFor(std::string_view funnel_code, StageRole role) const {
    const auto* funnel = FindFunnel(funnel_code);
    if (funnel == nullptr) {
        return {};
    }
    for (const auto& stage : funnel->stages) {
        if (stage.role == role) {
            return stage.status_id;
        }
    }
    return {};
}

std::string ProcessIds::EnumXmlId(std::string_view code, std::int64_t enum_id) const {
    const auto* field = FindField(code);
    if (field == nullptr) {
        return {};
    }
    for (const auto& [xml_id, id] : field->enum_ids) {
        if (id == enum_id) {
            return xml_id;
        }
    }
    return {};
}

std::int64_t ProcessIds::EnumId(std::string_view code, std::string_view xml_id) const {
    const auto* field = FindField(code);
    if (field == nullptr) {
        return 0;
    }
    const auto it = field->enum_ids.find(std::string(xml_id));
    return it == field->enum_ids.end() ? 0 : it->second;
}

const ProcessIds* Layout::FindProcess(std::string_view code) const {
    for (const auto& process : processes) {
        if (process.code == code) {
            return &process;
        }
    }
    return nullptr;
}

ProcessIds* Layout::FindProcess(std::string_view code) {
    return const_cast<ProcessIds*>(std::as_const(*this).FindProcess(code));
}

const ProcessIds* Layout::ByEntityTypeId(std::int64_t entity_type_id) const {
    for (const auto& process : processes) {
        if (process.entity_type_id == entity_type_id) {
            return &process;
        }
    }
    return nullptr;
}

bj::value Layout::ToJson() const {
    bj::array process_array;
    for (const auto& p : processes) {
        bj::array funnel_array;
        for (const auto& f : p.funnels) {
            bj::array stage_array;
            for (const auto& s : f.stages) {
                stage_array.push_back(
                    bj::object{{"code", s.code}, {"role", ToString(s.role)}, {"status_id", s.status_id}, {"id", s.id}});
            }
            funnel_array.push_back(bj::object{{"code", f.code},
                                              {"category_id", f.category_id},
                                              {"is_default", f.is_default},
                                              {"stages", std::move(stage_array)}});
        }
        bj::array field_array;
        for (const auto& f : p.fields) {
            bj::object enum_ids;
            for (const auto& [xml_id, id] : f.enum_ids) {
                enum_ids[xml_id] = id;
            }
            field_array.push_back(
                bj::object{{"code", f.code}, {"uf_name", f.uf_name}, {"id", f.id}, {"enum_ids", std::move(enum_ids)}});
        }
        process_array.push_back(bj::object{{"code", p.code},
                                           {"type_id", p.type_id},
                                           {"entity_type_id", p.entity_type_id},
                                           {"funnels", std::move(funnel_array)},
                                           {"fields", std::move(field_array)}});
    }
    return bj::object{
        {"version", kLayoutVersion}, {"workplace_id", workplace_id}, {"processes", std::move(process_array)}};
}

Result<Layout> Layout::FromJson(const bj::value& json) {
    if (!json.is_object()) {
        return Fail(CoreErrc::kInvalid, "$: layout is not an object");
    }
    Reader r;
    const std::string root = "$";
    const auto version = r.Int(json, "version", root);
    if (version != 0 && version != kLayoutVersion) {
        return Fail(CoreErrc::kUnsupported, fmt::format("$.version: layout version {} is not known", version));
    }
    Layout layout;
    layout.workplace_id = r.Int(json, "workplace_id", root);
    if (const auto* processes = r.Array(json, "processes", root)) {
        const auto processes_path = json::PathKey(root, "processes");
        for (std::size_t i = 0; i < processes->size(); ++i) {
            layout.processes.push_back(ReadProcess(r, (*processes)[i], json::PathIndex(processes_path, i)));
        }
    }
    if (!r.Detail().empty()) {
        return Fail(CoreErrc::kInvalid, r.Detail());
    }
    return layout;
}

}  // namespace dispatch::provision
