#pragma once
// Internal to store/: the flows repositories (flow_repos.hpp), written once over sql::Database so SQLite and
// PostgreSQL run the same bodies and the same SQL (queries.hpp); each backend only adapts its connections.

#include <memory>

#include "store/flow_repos.hpp"
#include "store/sql_session.hpp"

namespace dispatch::store {

struct FlowRepos {
    std::unique_ptr<TicketRepo> tickets;
    std::unique_ptr<TimerRepo> timers;
    std::unique_ptr<OutboxRepo> outbox;
    std::unique_ptr<SettingsRepo> settings;
};

// The repositories keep a reference to `db`: it must outlive them.
FlowRepos MakeFlowRepos(sql::Database& db);

}  // namespace dispatch::store
