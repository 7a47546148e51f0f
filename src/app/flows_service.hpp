#pragma once
// The SLA flows inside dispatchd: the policy and calendars from workplace/sla.json (checked against its schema,
// compiled in), the pure engine, the runtime (inbox worker, timers, outbox, reconciliation) over the store and the
// portal clients, and their HTTP routes. main() creates it after the store and the clients and stops it before them.

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

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

    // The ticket and admin routes, the stats API and the dashboard.
    void AddRoutes(http::Router& router, flows::ApiOptions options);
    void Start();
    void Stop();

    flows::Runtime& Runtime() { return *runtime_; }

private:
    FlowsService(const Clock& clock) : clock_(clock) {}

    // Runs the stats reports off the io threads, one at a time (they fold every ticket of a portal).
    void Offload(std::function<void()> work);
    void OffloadLoop();

    const Clock& clock_;
    store::Store* store_ = nullptr;
    sla::SlaConfig config_;
    std::shared_ptr<const sla::Policy> policy_;  // aliases config_.policy for the web routes
    std::mutex offload_mu_;
    std::condition_variable offload_cv_;
    std::deque<std::function<void()>> offload_queue_;
    bool offload_stopping_ = false;
    std::thread offload_thread_;
    sla::CalendarSet calendars_;
    std::unique_ptr<flows::Engine> engine_;
    std::unique_ptr<flows::Runtime> runtime_;
};

// SLA policy checked against the compiled-in schema, then its meaning (sla/policy_load.hpp).
[[nodiscard]] Result<sla::SlaConfig> LoadSlaPolicy(const std::string& path);

}  // namespace dispatch::app
