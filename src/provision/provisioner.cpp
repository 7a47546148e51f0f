#include "provision/provisioner.hpp"

#include <fmt/format.h>

#include <map>
#include <set>

#include "b24/batch.hpp"
#include "b24/errc.hpp"
#include "core/errc.hpp"
#include "core/json.hpp"

namespace dispatch::provision {

namespace bj = boost::json;

namespace {

std::string_view Verb(Action action) {
    switch (action) {
        case Action::kCreate:
            return "created";
        case Action::kUpdate:
            return "updated";
        case Action::kDrift:
            return "repaired";
        case Action::kDelete:
            return "deleted";
        default:
            return "touched";
    }
}

// The longest prefix of `ops` (at most one batch) that no later operation refers back into: a back-reference
// only resolves within its own batch.
std::size_t BatchCut(const std::vector<PlannedOp>& ops) {
    std::size_t cut = std::min(ops.size(), b24::kMaxBatchCalls);
    while (cut > 1) {
        std::set<std::string> before;
        for (std::size_t i = 0; i < cut; ++i) {
            before.insert(ops[i].key);
        }
        bool crosses = false;
        for (std::size_t j = cut; j < ops.size() && !crosses; ++j) {
            for (const auto& ref : ops[j].refs) {
                crosses = crosses || before.count(ref) != 0;
            }
        }
        if (!crosses) {
            break;
        }
        --cut;
    }
    return cut;
}

std::string OpsFingerprint(const std::vector<PlannedOp>& ops) {
    std::string out;
    for (const auto& op : ops) {
        out += op.method;
        out += json::Dump(bj::value(op.params));
        out += '\n';
    }
    return out;
}

class Runner {
public:
    Runner(b24::Client& client, const WorkplaceSpec& spec, const Layout* stored, const ProvisionOptions& options)
        : client_(client), spec_(spec), stored_(stored), options_(options) {}

    Result<ProvisionOutcome> Run() {
        if (options_.apply && options_.plan.app_context && options_.plan.public_url.empty()) {
            return Fail(CoreErrc::kInvalid,
                        "binding events and registering robots needs the service's public URL (config public_url "
                        "or --public-url)");
        }
        std::string last_writes;
        for (std::size_t round = 0;; ++round) {
            Plan plan = MakePlan(spec_, snap_, stored_, options_.plan);
            if (auto saved = SaveProgress(plan); !saved) {
                return saved.error();
            }
            if (round == options_.max_rounds) {
                return Fail(b24::Errc::kBadResponse,
                            fmt::format("no end after {} rounds; already done: {}", options_.max_rounds, DoneText()));
            }
            if (plan.Complete() && !shown_) {
                shown_ = true;
                outcome_.plan = plan;
                if (options_.on_plan) {
                    options_.on_plan(plan);
                }
            }
            if (plan.ops.empty() || (plan.Complete() && !options_.apply)) {
                return Finish(std::move(plan));
            }
            // An incomplete plan asks only for reads (plan.hpp); `plan` must never write.
            DISPATCH_CHECK(options_.apply || !plan.HasWrites(), "a read-only run was about to write");
            if (plan.HasWrites()) {
                const auto fingerprint = OpsFingerprint(plan.ops);
                if (fingerprint == last_writes) {
                    const auto& op = plan.ops.front();
                    return Failure(plan,
                                   op,
                                   Fail(b24::Errc::kBadResponse,
                                        "the portal answered but did not take the change: the next plan asks for "
                                        "the same calls again"));
                }
                last_writes = fingerprint;
            }
            if (auto sent = Send(plan); !sent) {
                return sent.error();
            }
        }
    }

private:
    Result<ProvisionOutcome> Finish(Plan plan) {
        outcome_.layout = plan.layout;
        if (options_.apply) {
            if (auto saved = Save(plan.layout, true); !saved) {
                return saved.error();
            }
        }
        outcome_.remaining = std::move(plan);
        outcome_.done = DoneList();
        return std::move(outcome_);
    }

    Result<void> Save(const Layout& layout, bool final) {
        if (!options_.save_layout) {
            return {};
        }
        const auto text = json::Dump(layout.ToJson());
        if (saved_text_.empty()) {
            saved_text_ = stored_ != nullptr ? json::Dump(stored_->ToJson()) : std::string();
        }
        if (text == saved_text_ || (!final && !wrote_since_save_)) {
            return {};
        }
        if (auto saved = options_.save_layout(layout); !saved) {
            Error error = saved.error();
            error.detail = fmt::format("storing the layout failed: {}; already done: {}", error.detail, DoneText());
            return error;
        }
        saved_text_ = text;
        wrote_since_save_ = false;
        return {};
    }

    // The layout of what exists after a write, even when a batch stopped halfway: the next run starts from it.
    Result<void> SaveProgress(const Plan& plan) {
        if (!wrote_since_save_ || !plan.layout_known) {
            return {};
        }
        return Save(plan.layout, false);
    }

    // Sends the first batch of the plan and folds the answers in.
    Result<void> Send(const Plan& plan) {
        const std::size_t cut = BatchCut(plan.ops);
        b24::BatchBuilder batch(/*halt=*/true);
        for (std::size_t i = 0; i < cut; ++i) {
            const auto& op = plan.ops[i];
            if (auto added = batch.Add(op.key, op.method, op.params); !added) {
                return Failure(plan, op, added.error());
            }
        }
        ++outcome_.requests;
        auto answer = client_.CallBatch(batch);
        if (!answer) {
            Error error = answer.error();
            std::vector<std::string> methods;
            for (std::size_t i = 0; i < cut && methods.size() < 4; ++i) {
                methods.push_back(plan.ops[i].method);
            }
            error.detail = fmt::format("batch request of {} calls ({}{}) failed: {} {}; already done: {}",
                                       cut,
                                       fmt::join(methods, ", "),
                                       cut > methods.size() ? ", ..." : "",
                                       error.code.message(),
                                       error.detail,
                                       DoneText());
            return error;
        }
        const bool writes = plan.HasWrites();
        std::map<std::pair<ObjectKind, Action>, std::set<std::size_t>> tally;
        std::optional<Error> failure;
        for (std::size_t i = 0; i < cut && !failure; ++i) {
            const auto& op = plan.ops[i];
            const auto it = answer->by_key.find(op.key);
            if (it == answer->by_key.end() || !it->second.Ok()) {
                failure = it == answer->by_key.end() ? Fail(b24::Errc::kBadResponse, "no answer for this call")
                                                     : *it->second.error;
                failure->detail = FailureText(plan, op, *failure);
                break;
            }
            bj::value result = it->second.result.value_or(bj::value());
            if (it->second.next && op.refs.empty() && !ListKey(op.kind).empty()) {
                if (auto rest = RestOfList(op, *it->second.next, result); !rest) {
                    failure = rest.error();
                    failure->detail = FailureText(plan, op, *failure);
                    break;
                }
            }
            if (auto folded = ApplyResult(snap_, op, result, it->second.total); !folded) {
                failure = folded.error();
                failure->detail = FailureText(plan, op, *failure);
                break;
            }
            if (IsWrite(op.kind)) {
                ++outcome_.write_calls;
                wrote_since_save_ = true;
                if (op.entry < plan.entries.size()) {
                    const auto& entry = plan.entries[op.entry];
                    // An entry may take two calls (a field deleted and recreated): count it once.
                    if (tally[{entry.kind, entry.action}].insert(op.entry).second) {
                        ++done_[{entry.kind, entry.action}];
                    }
                }
            }
        }
        Progress(writes, cut, tally, failure.has_value());
        if (failure) {
            // No next round will store what this batch made before it stopped.
            if (wrote_since_save_) {
                if (auto saved = SaveProgress(MakePlan(spec_, snap_, stored_, options_.plan)); !saved) {
                    return saved.error();
                }
            }
            return *failure;  // logged once, by whoever reports it
        }
        return {};
    }

    Result<void> RestOfList(const PlannedOp& op, std::int64_t next, bj::value& result) {
        bj::object params = op.params;
        params["start"] = next;
        ++outcome_.requests;
        auto rest = client_.ListAll(op.method, params, ListKey(op.kind));
        if (!rest) {
            return rest.error();
        }
        auto* list = result.is_object() ? result.get_object().if_contains(ListKey(op.kind)) : nullptr;
        if (list == nullptr || !list->is_array()) {
            return Fail(b24::Errc::kBadResponse,
                        fmt::format("method={} list without '{}'", op.method, ListKey(op.kind)));
        }
        for (auto& row : *rest) {
            list->get_array().push_back(std::move(row));
        }
        return {};
    }

    void Progress(bool writes,
                  std::size_t calls,
                  const std::map<std::pair<ObjectKind, Action>, std::set<std::size_t>>& tally,
                  bool failed) {
        if (!options_.progress) {
            return;
        }
        std::string line = fmt::format("{} request {}: {} calls", writes ? "write" : "read", outcome_.requests, calls);
        std::map<ObjectKind, std::vector<std::string>> by_kind;
        for (const auto& [key, entries] : tally) {
            by_kind[key.first].push_back(fmt::format("{} {}", entries.size(), Verb(key.second)));
        }
        std::vector<std::string> parts;
        for (const auto& [kind, verbs] : by_kind) {
            parts.push_back(fmt::format("{} {}", ToString(kind), fmt::join(verbs, ", ")));
        }
        if (!parts.empty()) {
            line += fmt::format(": {}", fmt::join(parts, "; "));
        }
        if (failed) {
            line += " (stopped at a failing call)";
        }
        options_.progress(line);
    }

    std::vector<std::string> DoneList() const {
        std::map<ObjectKind, std::vector<std::string>> by_kind;
        for (const auto& [key, count] : done_) {
            if (count > 0) {
                by_kind[key.first].push_back(fmt::format("{} {}", count, Verb(key.second)));
            }
        }
        std::vector<std::string> out;
        for (const auto& [kind, verbs] : by_kind) {
            out.push_back(fmt::format("{}: {}", ToString(kind), fmt::join(verbs, ", ")));
        }
        return out;
    }

    std::string DoneText() const {
        const auto done = DoneList();
        return done.empty() ? std::string("nothing") : fmt::format("{}", fmt::join(done, "; "));
    }

    std::string FailureText(const Plan& plan, const PlannedOp& op, const Error& error) const {
        std::string object;
        if (op.entry < plan.entries.size()) {
            const auto& entry = plan.entries[op.entry];
            object = fmt::format(" for {} {}", ToString(entry.kind), entry.path);
        }
        const auto errc = b24::AsErrc(error.code);
        return fmt::format("call {}{} failed: code={} {}; already done: {}",
                           op.method,
                           object,
                           errc ? b24::Name(*errc) : std::string_view(error.code.message()),
                           error.detail,
                           DoneText());
    }

    Error Failure(const Plan& plan, const PlannedOp& op, Error error) const {
        error.detail = FailureText(plan, op, error);
        return error;
    }

    b24::Client& client_;
    const WorkplaceSpec& spec_;
    const Layout* stored_;
    const ProvisionOptions& options_;
    PortalSnapshot snap_;
    ProvisionOutcome outcome_;
    bool shown_ = false;
    bool wrote_since_save_ = false;
    std::string saved_text_;
    std::map<std::pair<ObjectKind, Action>, int> done_;
};

}  // namespace

Result<ProvisionOutcome> Provision(b24::Client& client,
                                   const WorkplaceSpec& spec,
                                   const Layout* stored,
                                   const ProvisionOptions& options) {
    return Runner(client, spec, stored, options).Run();
}

}  // namespace dispatch::provision
