#pragma once
// One emulated Bitrix24 portal: its state (model.hpp), its clock, its settings, and the rules shared by several
// method families (default funnels and stages, stage lookups, the pending-event list). Not thread-safe by itself:
// every caller holds Mutex() for the whole operation (RestApi and AdminApi do).

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "emulator/clock_control.hpp"
#include "emulator/model.hpp"

namespace dispatch::emulator {

class ItemSchema;

enum class Plan { kStandard, kEnterprise };

struct PortalSettings {
    std::string base_url = "https://127.0.0.1";  // scheme://host[:port], no trailing slash; set once listening
    Plan plan = Plan::kStandard;
    bool limits_enabled = true;    // leaky bucket on /rest/ (CONTRACT §3)
    int utc_offset_minutes = 180;  // portal time zone for rendered times (+03:00, a typical cloud portal)
    std::uint64_t seed = 0;        // 0: random secrets; otherwise deterministic (tests, the demo)
};

// An item change that becomes ONCRMDYNAMICITEM{ADD,UPDATE,DELETE}[_{e}] deliveries (events.hpp).
struct DomainEvent {
    std::string event;  // ONCRMDYNAMICITEMADD / UPDATE / DELETE
    std::int64_t entity_type_id = 0;
    std::int64_t item_id = 0;
    std::int64_t user_id = 0;  // who caused it
    bool automation = false;   // caused by automation: the auth block carries no tokens (events/index.md)
};

// An item entered a stage that carries a robot.
struct RobotCall {
    RobotPlacement placement;
    std::int64_t entity_type_id = 0;
    std::int64_t item_id = 0;
    std::int64_t user_id = 0;
};

class Portal {
public:
    Portal(PortalSettings settings, ClockControl& clock);

    std::mutex& Mutex() { return mu_; }
    PortalState& State() { return state_; }
    const PortalState& State() const { return state_; }
    // Replaces the whole state (--state loading); drops everything derived from the old one.
    void ReplaceState(PortalState state) {
        state_ = std::move(state);
        SchemaChanged();
    }

    // Item schemas (item_fields.hpp) by (type id, original UF names), built once and reused by every crm.item.*
    // call. They point into the type and user-field tables, so whatever adds, changes or removes a smart process
    // or a user field calls SchemaChanged() (userfieldconfig.*, crm.type.*, ReplaceState).
    std::map<std::pair<std::int64_t, bool>, std::shared_ptr<const ItemSchema>>& SchemaCache() { return schemas_; }
    void SchemaChanged() { schemas_.clear(); }
    const PortalSettings& Settings() const { return settings_; }
    void SetBaseUrl(std::string base_url) { settings_.base_url = std::move(base_url); }
    void SetLimitsEnabled(bool on) { settings_.limits_enabled = on; }
    ClockControl& Clock() { return clock_; }

    TimeMs Now() const { return clock_.Now(); }
    // The emulator clock truncated to whole seconds: what the portal stores in datetime columns (items, types,
    // history, comments), so a time read back from a response filters exactly.
    TimeMs NowSeconds() const {
        const TimeMs t = Now();  // read once: two reads may straddle a second under a real or warped clock
        return t - t % kSecondMs;
    }
    // "2026-01-12T10:04:11+03:00" in the portal zone; like Bitrix24 (PHP's DATE_ATOM), no fraction of a second.
    std::string Iso(TimeMs t) const;
    // The same text into `buf`, returning its length (no allocation: list pages format hundreds of these).
    std::size_t IsoTo(TimeMs t, char (&buf)[40]) const;
    std::int64_t NextId() { return ++state_.seq; }
    std::string RandomHex(std::size_t chars);

    std::string Domain() const;          // host[:port]
    std::string ClientEndpoint() const;  // https://host/rest/
    std::string ServerEndpoint() const;  // the OAuth server's REST base (not served; CONTRACT §1.2)

    // Fresh portal: member id, the local app's credentials, an admin webhook for user 1. Users and departments come
    // from the company directory (company.hpp), loaded separately.
    void InitializeSecrets();

    // --- smart processes, funnels, stages ---
    SpaType* TypeById(std::int64_t id);
    SpaType* TypeByEntityTypeId(std::int64_t entity_type_id);
    Category* CategoryById(std::int64_t id);
    Category* DefaultCategory(std::int64_t entity_type_id);
    // Adds a funnel with the five default stages (crm.category.add seeds them; CONTRACT §6).
    Category& AddCategory(std::int64_t entity_type_id, std::string name, std::int64_t sort, bool is_default);
    std::vector<const Stage*> StagesOf(std::int64_t entity_type_id, std::int64_t category_id) const;
    const Stage* StageByStatusId(std::string_view status_id) const;
    std::vector<const UserField*> FieldsOfType(std::int64_t type_id) const;
    bool HasItems(std::int64_t entity_type_id) const;

    static std::string StageEntityId(std::int64_t entity_type_id, std::int64_t category_id);
    static std::string StagePrefix(std::int64_t entity_type_id, std::int64_t category_id);
    // "DYNAMIC_1038_STAGE_14" → {1038, 14}; false for anything else.
    static bool ParseStageEntityId(std::string_view entity_id, std::int64_t& entity_type_id, std::int64_t& category_id);

    // --- users ---
    const User* FindUser(std::int64_t id) const;
    bool IsAdmin(std::int64_t user_id) const;

    // --- events raised by the current operation, drained by the caller after it ---
    void Raise(DomainEvent e) { events_.push_back(std::move(e)); }
    void RaiseRobot(RobotCall c) { robot_calls_.push_back(std::move(c)); }
    std::vector<DomainEvent> TakeEvents() { return std::exchange(events_, {}); }
    std::vector<RobotCall> TakeRobotCalls() { return std::exchange(robot_calls_, {}); }

    // When the OAuth server last swept expired tokens and codes (oauth.cpp; emulator clock, not persisted).
    TimeMs& LastTokenPurge() { return last_token_purge_; }

private:
    std::mutex mu_;
    PortalSettings settings_;
    ClockControl& clock_;
    PortalState state_;
    std::mt19937_64 rng_;
    std::vector<DomainEvent> events_;
    std::vector<RobotCall> robot_calls_;
    TimeMs last_token_purge_ = 0;
    std::map<std::pair<std::int64_t, bool>, std::shared_ptr<const ItemSchema>> schemas_;
};

}  // namespace dispatch::emulator
