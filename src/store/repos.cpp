#include "store/repos.hpp"

#include <fmt/format.h>

#include <future>
#include <memory>

#include "core/json.hpp"
#include "store/errc.hpp"
#include "store/queries.hpp"

namespace dispatch::store {

std::string_view ToString(AuthMode mode) { return mode == AuthMode::kOAuth ? "oauth" : "webhook"; }

std::optional<AuthMode> ParseAuthMode(std::string_view text) {
    if (text == "oauth") {
        return AuthMode::kOAuth;
    }
    if (text == "webhook") {
        return AuthMode::kWebhook;
    }
    return std::nullopt;
}

std::string_view ToString(PortalStatus status) {
    switch (status) {
        case PortalStatus::kActive:
            return "active";
        case PortalStatus::kSuspended:
            return "suspended";
        case PortalStatus::kUninstalled:
            return "uninstalled";
    }
    return "active";
}

std::optional<PortalStatus> ParsePortalStatus(std::string_view text) {
    if (text == "active") {
        return PortalStatus::kActive;
    }
    if (text == "suspended") {
        return PortalStatus::kSuspended;
    }
    if (text == "uninstalled") {
        return PortalStatus::kUninstalled;
    }
    return std::nullopt;
}

std::string_view ToString(InboxKind kind) {
    switch (kind) {
        case InboxKind::kEvent:
            return "event";
        case InboxKind::kRobot:
            return "robot";
        case InboxKind::kInstall:
            return "install";
        case InboxKind::kHook:
            return "hook";
    }
    return "event";
}

std::optional<InboxKind> ParseInboxKind(std::string_view text) {
    if (text == "event") {
        return InboxKind::kEvent;
    }
    if (text == "robot") {
        return InboxKind::kRobot;
    }
    if (text == "install") {
        return InboxKind::kInstall;
    }
    if (text == "hook") {
        return InboxKind::kHook;
    }
    return std::nullopt;
}

TimeMs Backoff(const RetryPolicy& policy, std::int64_t attempt) {
    TimeMs delay = policy.first_backoff;
    for (std::int64_t i = 1; i < attempt && delay < policy.max_backoff; ++i) {
        delay *= 2;
    }
    return delay < policy.max_backoff ? delay : policy.max_backoff;
}

Result<AppendOutcome> InboxRepo::AppendAndWait(InboxEvent event) {
    auto promise = std::make_shared<std::promise<Result<AppendOutcome>>>();
    auto future = promise->get_future();
    Append(std::move(event), [promise](Result<AppendOutcome> outcome) { promise->set_value(std::move(outcome)); });
    return future.get();
}

}  // namespace dispatch::store

namespace dispatch::store::sql {

Result<void> ValidateEvent(const InboxEvent& event) {
    if (event.member_id.empty() || event.dedup_key.empty()) {
        return Fail(Errc::kInvalidArgument, "inbox event needs a member_id and a dedup_key");
    }
    if (!json::Parse(event.payload)) {
        return Fail(Errc::kInvalidArgument,
                    fmt::format("inbox event {} has a payload that is not JSON", event.dedup_key));
    }
    return {};
}

}  // namespace dispatch::store::sql
