#include "app/flows_service.hpp"

#include <date/date.h>

#include <algorithm>

#include "app/embedded.hpp"
#include "core/json.hpp"
#include "core/json_schema.hpp"
#include "core/log.hpp"
#include "flows/kpi_export.hpp"
#include "stats/zone.hpp"
#include "web/routes.hpp"

namespace dispatch::app {
namespace {

constexpr log::Logger kLog{"flows"};
constexpr std::string_view kCalendarCheckTimer = "calendar_check";
constexpr int kYearsBack = 5;  // compiled calendar years around today (see Create)
constexpr int kYearsAhead = 2;

date::year_month_day DateOf(TimeMs t) {
    return date::year_month_day(
        date::floor<date::days>(date::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(t))));
}

// "2025,2026", or "none".
std::string YearList(const std::vector<int>& years) {
    std::string text;
    for (int year : years) {
        text += (text.empty() ? "" : ",") + std::to_string(year);
    }
    return text.empty() ? std::string("none") : text;
}

// Every start and a daily job say it (MissingProductionYears).
void WarnOfMissingProductionYears(const std::vector<sla::CalendarSpec>& calendars, TimeMs now) {
    for (const auto& m : MissingProductionYears(calendars, now)) {
        DISPATCH_LOG_WARN(kLog,
                          "production calendar missing",
                          "calendar={} year={} covered={} provisional={} effect=\"{}\"",
                          m.calendar,
                          m.year,
                          m.covered,
                          m.provisional,
                          m.year_provisional
                              ? "only the law's holidays apply: the decree's transfers of days off are missing"
                              : "its public holidays count as working days");
    }
}

}  // namespace

std::vector<MissingProductionYear> MissingProductionYears(const std::vector<sla::CalendarSpec>& calendars, TimeMs now) {
    const auto today = DateOf(now);
    std::vector<MissingProductionYear> out;
    for (const auto& spec : calendars) {
        const auto missing =
            sla::UncoveredProductionYear(spec, static_cast<int>(today.year()), static_cast<unsigned>(today.month()));
        if (!missing) {
            continue;
        }
        out.push_back({spec.id,
                       *missing,
                       YearList(spec.production_years),
                       YearList(spec.provisional_years),
                       std::binary_search(spec.provisional_years.begin(), spec.provisional_years.end(), *missing)});
    }
    return out;
}

Result<PolicyCheck> CheckSlaPolicy(const std::string& path, TimeMs now) {
    auto config = LoadSlaPolicy(path);
    if (!config) {
        return config.error();
    }
    const int year = static_cast<int>(DateOf(now).year());
    if (auto compiled = sla::CompileCalendars(config->calendars, year - kYearsBack, year + kYearsAhead); !compiled) {
        return compiled.error();
    }
    PolicyCheck check;
    check.calendars = static_cast<int>(config->calendars.size());
    check.templates = static_cast<int>(config->policy.templates.size());
    check.missing = MissingProductionYears(config->calendars, now);
    return check;
}

Result<sla::SlaConfig> LoadSlaPolicy(const std::string& path) {
    auto schema_doc = json::Parse(kSlaSchema);
    if (!schema_doc) {
        return schema_doc.error();
    }
    auto schema = json::Schema::Load(*schema_doc);
    if (!schema) {
        return schema.error();
    }
    return sla::LoadSlaConfig(path, *schema);
}

Result<std::unique_ptr<FlowsService>> FlowsService::Create(const std::string& sla_path,
                                                           store::Store& store,
                                                           const Clock& clock,
                                                           flows::ClientFor clients,
                                                           flows::RuntimeOptions options) {
    std::unique_ptr<FlowsService> service(new FlowsService(clock));
    auto config = LoadSlaPolicy(sla_path);
    if (!config) {
        return config.error();
    }
    service->config_ = std::move(*config);
    service->store_ = &store;
    service->policy_ = std::shared_ptr<const sla::Policy>(std::shared_ptr<void>(), &service->config_.policy);
    // Instants outside the compiled years count as closed: a ticket from before them would fold to zero business
    // minutes and change old statistics (the stats API's year view reaches back to January four years ago), and
    // a service running past them would stop every clock. So: five years back, two ahead (a few ms at start).
    const int year = static_cast<int>(DateOf(clock.Now()).year());
    WarnOfMissingProductionYears(service->config_.calendars, clock.Now());
    auto calendars = sla::CompileCalendars(service->config_.calendars, year - kYearsBack, year + kYearsAhead);
    if (!calendars) {
        return calendars.error();
    }
    service->calendars_ = std::move(*calendars);
    service->engine_ = std::make_unique<flows::Engine>(service->config_.policy, service->calendars_);
    service->runtime_ =
        std::make_unique<flows::Runtime>(store, *service->engine_, clock, std::move(clients), std::move(options));
    // KPIs written back daily: the current and the previous month, and their years.
    flows::Runtime* runtime = service->runtime_.get();
    runtime->AddPortalJob(std::string(flows::kKpiTimer), kDayMs, [runtime](std::string_view member_id) -> Result<void> {
        auto exported = flows::ExportKpis(*runtime, member_id, runtime->Now() - 31 * kDayMs, runtime->Now() + kDayMs);
        if (!exported) {
            return exported.error();
        }
        return {};
    });
    // The production-calendar warning once a day too, not only at start: a service left running since summer
    // would otherwise never say that next year's holidays are missing.
    runtime->AddPortalJob(std::string(kCalendarCheckTimer),
                          kDayMs,
                          [runtime, calendars = &service->config_.calendars](std::string_view) -> Result<void> {
                              WarnOfMissingProductionYears(*calendars, runtime->Now());
                              return {};
                          });
    DISPATCH_LOG_INFO(kLog,
                      "flows ready",
                      "policy={} version={} calendars={} templates={}",
                      service->config_.policy.id,
                      service->config_.policy.version,
                      service->calendars_.All().size(),
                      service->config_.policy.templates.size());
    return service;
}

FlowsService::~FlowsService() { Stop(); }

void FlowsService::AddRoutes(http::Router& router, flows::ApiOptions options) {
    const std::string api_token = options.api_token;
    flows::AddRoutes(router, *runtime_, clock_, std::move(options));
    auto zone = stats::Zone::Locate(stats::PortalZone(config_.policy, calendars_));
    if (!zone) {
        zone = stats::Zone::Locate("UTC");
    }
    web::Options web_options;
    web_options.api_token = api_token;
    if (auto portals = store_->Portals().List(); portals && portals->size() == 1) {
        web_options.default_member_id = portals->front().member_id;
    }
    flows::Runtime* runtime = runtime_.get();
    web::Routes routes(
        [runtime](std::string_view member_id, TimeMs now) { return flows::FoldAll(*runtime, member_id, now); },
        policy_,
        clock_,
        *zone,
        web_options);
    routes.Register(router);
}

std::vector<std::pair<std::string, double>> FlowsService::ProductionCoverage(TimeMs now) const {
    const int year = static_cast<int>(DateOf(now).year());
    std::vector<std::pair<std::string, double>> out;
    for (const auto& spec : config_.calendars) {
        if (!spec.uses_production || spec.always_open) {
            continue;
        }
        const date::sys_days end = date::year(sla::FirstUncoveredYear(spec, year)) / 1 / 1;
        out.emplace_back(
            spec.id,
            static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(end.time_since_epoch()).count()));
    }
    return out;
}

void FlowsService::Start() { runtime_->Start(); }

void FlowsService::Stop() {
    if (runtime_) {
        runtime_->Stop();
    }
}

}  // namespace dispatch::app
