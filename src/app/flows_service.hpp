#pragma once
// The SLA flows inside dispatchd: the policy and calendars from workplace/sla.json (checked against its schema,
// compiled in), the pure engine, the runtime (inbox worker, timers, outbox, reconciliation) over the store and the
// portal clients, and their HTTP routes. main() creates it after the store and the clients and stops it before them.

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "flows/api.hpp"
#include "flows/engine.hpp"
#include "flows/runtime.hpp"
#include "http/server.hpp"
#include "sla/policy_load.hpp"
#include "store/store.hpp"

namespace dispatch::app {

class FlowsService {
public:
    // Loads and compiles the policy (calendars for the years around `clock`'s now). Does not start threads.
    [[nodiscard]] static Result<std::unique_ptr<FlowsService>> Create(const std::string& sla_path,
                                                                      store::Store& store,
                                                                      const Clock& clock,
                                                                      flows::ClientFor clients,
                                                                      flows::RuntimeOptions options);
    ~FlowsService();
    FlowsService(const FlowsService&) = delete;
    FlowsService& operator=(const FlowsService&) = delete;

    // The ticket and admin routes, the stats API and the dashboard; most are blocking routes, so the router needs
    // an offload (http::Router::SetOffload) that stops before this service does.
    void AddRoutes(http::Router& router, flows::ApiOptions options);
    void Start();
    void Stop();

    flows::Runtime& Runtime() { return *runtime_; }

    // For each calendar built on production calendars: UTC midnight after the last of the years they describe
    // without a gap from `now`'s year on, in Unix seconds (Jan 1 of this year when this one is missing). Past it the
    // calendar knows no public holidays.
    std::vector<std::pair<std::string, double>> ProductionCoverage(TimeMs now) const;

private:
    FlowsService(const Clock& clock) : clock_(clock) {}

    const Clock& clock_;
    store::Store* store_ = nullptr;
    sla::SlaConfig config_;
    std::shared_ptr<const sla::Policy> policy_;  // aliases config_.policy for the web routes
    sla::CalendarSet calendars_;
    std::unique_ptr<flows::Engine> engine_;
    std::unique_ptr<flows::Runtime> runtime_;
};

// SLA policy checked against the compiled-in schema, then its meaning (sla/policy_load.hpp).
[[nodiscard]] Result<sla::SlaConfig> LoadSlaPolicy(const std::string& path);

// A calendar whose production calendars miss a year that matters now (sla::UncoveredProductionYear).
struct MissingProductionYear {
    std::string calendar;
    int year = 0;
    std::string covered;            // "2025,2026", or "none"
    std::string provisional;        // years with provisional dates only, "2027", or "none"
    bool year_provisional = false;  // `year` has provisional dates: the law's holidays, not the decree's transfers
};
std::vector<MissingProductionYear> MissingProductionYears(const std::vector<sla::CalendarSpec>& calendars, TimeMs now);

// `dispatchd --check`: the policy loads, validates and compiles as FlowsService::Create would have it, and which
// calendars miss a production calendar.
struct PolicyCheck {
    int calendars = 0;
    int templates = 0;
    std::vector<MissingProductionYear> missing;
};
[[nodiscard]] Result<PolicyCheck> CheckSlaPolicy(const std::string& path, TimeMs now);

}  // namespace dispatch::app
