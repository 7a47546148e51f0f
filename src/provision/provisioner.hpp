#pragma once
// Running a plan against a portal: read what the plan asks for, show the plan, then (apply) send its operations in
// `batch` requests of up to 50 calls in dependency order, fold every answer into the snapshot, plan again, until
// nothing is left. One HTTP request per round; the b24::Client keeps it within the portal's rate limit and retries
// 503/429/5xx. A batch stops at its first failing call (halt), so what ran is known exactly: the layout of what
// exists is stored after every batch, and a later run continues from what the portal then holds (matching by
// codes, never creating twice).
//
//   ProvisionOptions options;
//   options.plan.app_context = true;  options.plan.public_url = "https://dispatch.example.com";
//   options.apply = true;
//   options.save_layout = [&](const Layout& l) { return settings.Put(member, kLayoutSettingsKey, ..., now); };
//   auto outcome = Provision(client, spec, stored_layout_or_null, options);

#include <functional>
#include <string>
#include <vector>

#include "b24/client.hpp"
#include "core/error.hpp"
#include "provision/layout.hpp"
#include "provision/plan.hpp"
#include "provision/spec.hpp"

namespace dispatch::provision {

struct ProvisionOptions {
    PlanOptions plan;
    bool apply = false;  // false: read only, change nothing (not even the stored layout)
    // Called once, with the plan complete, before anything is written.
    std::function<void(const Plan&)> on_plan;
    // One human-readable line per request ("write 2/?: 50 calls: stages 21 created, 9 updated; fields 20 created").
    std::function<void(const std::string&)> progress;
    // Stores the layout (apply only): after every write batch that changed it, and at the end when it differs
    // from `stored`. A failure stops the apply.
    std::function<Result<void>(const Layout&)> save_layout;
    std::size_t max_rounds = 40;  // a plan that keeps asking for the same writes is a portal not taking them
};

struct ProvisionOutcome {
    Plan plan;         // the complete plan before anything was written
    Plan remaining;    // what is left after the run (no operations once an apply succeeded)
    Layout layout;     // the ids of every spec object the portal now holds
    int requests = 0;  // HTTP requests the run sent (batches and extra list pages), retries not counted
    int write_calls = 0;
    std::vector<std::string> done;  // "stage: 21 created, 9 updated" per object kind, in dependency order
};

// Errors: the failing call's b24 code (or the store's, from save_layout), with a detail that names the call, the
// object it was for, the portal's answer, and what was already done ("call crm.status.add for stage
// it_request/line2/QUEUED failed: ...; already done: type: 2 created; ..."). CoreErrc::kInvalid before anything is
// sent when the options cannot work (application context without a public URL).
Result<ProvisionOutcome> Provision(b24::Client& client,
                                   const WorkplaceSpec& spec,
                                   const Layout* stored,
                                   const ProvisionOptions& options);

}  // namespace dispatch::provision
