#pragma once
// The planner: the workplace spec diffed against what the portal holds (PortalSnapshot), as a list of entries a
// person reads (create / update / unchanged / drift / delete / keep / manual per object) and the REST operations
// that make the portal match. Pure: no I/O, no clock; the same inputs give the same plan.
//
// Matching is by stable codes, never by a display name alone: a smart process by crm.type `code`, a stage by the
// code after the prefix of its STATUS_ID, a field by its name UF_CRM_{type id}_{CODE}, an enumeration option by
// its xmlId, a robot by its CODE, an event binding by (event, handler). Funnels carry no code in Bitrix24, so a
// funnel is the category whose id the layout recorded, else (the spec's default funnel) the portal's default
// funnel, and only then a category with the funnel's name in one of the spec's languages (reported as such).
//
// The planner asks for what it has not read yet: while the snapshot lacks something a decision depends on, the
// plan holds only read operations (Plan::Complete() is false). Operations that need an id Bitrix24 has not
// assigned yet refer to the earlier operation of the same batch ($result[key]...), or, when only a part of a
// string would be the id (CRM_{id}, DYNAMIC_{entityTypeId}), wait for the next plan (the entry is `deferred`).
// So an applier runs: plan, send the operations in order, fold the answers into the snapshot (ApplyResult),
// plan again, until the plan has no operation.

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "provision/layout.hpp"
#include "provision/snapshot.hpp"
#include "provision/spec.hpp"

namespace dispatch::provision {

// In dependency order: an object depends only on objects of earlier kinds.
enum class ObjectKind { kWorkplace, kType, kBinding, kFunnel, kStage, kField, kEvent, kRobot };
std::string_view ToString(ObjectKind kind);

enum class Action {
    kUnchanged,
    kCreate,  // missing: will be created
    kUpdate,  // differs from the spec: will be changed
    kDrift,   // differs from (or is missing since) what provisioning recorded in the layout: will be repaired
    kDelete,  // not in the spec and holds no data (or --prune): will be deleted
    kKeep,    // not in the spec, or a change that would lose data, and not pruned: left alone (the note says why)
    kManual,  // an admin must do it by hand (the note says how)
};
std::string_view ToString(Action action);

struct PlanOptions {
    // Application (OAuth) context: event bindings and robots are provisioned. Otherwise (incoming webhook,
    // CONTRACT §0) they are listed as manual steps.
    bool app_context = false;
    // The service's public base URL ("https://dispatch.example.com"); handlers are this plus the spec's paths.
    std::string public_url;
    // Delete what is not in the spec even when it holds data, and recreate fields whose immutable settings
    // (type, multiple) differ. Without it those objects are kept and reported. A stray stage's items are first
    // moved to the funnel's stage of the same group (new / done / rejected): the portal refuses to delete a stage
    // that holds items. A funnel that holds items is never deleted (moving requests between lines is a decision).
    bool prune = false;
};

enum class OpKind {
    kListSolutions,
    kListTypes,
    kListBindings,
    kListRobots,
    kListCategories,
    kListStages,
    kListFields,
    kCountItems,
    kSolutionAdd,
    kSolutionUpdate,
    kTypeAdd,
    kTypeUpdate,
    kCategoryAdd,
    kCategoryUpdate,
    kCategoryDelete,
    kStageAdd,
    kStageUpdate,
    kStageDelete,
    kFieldAdd,
    kFieldUpdate,
    kFieldDelete,
    kEventBind,
    kRobotAdd,
    kListItemIds,  // the items of a stray stage, before --prune moves them out
    kItemMove,     // crm.item.update of one item out of a stray stage (--prune)
};
bool IsWrite(OpKind kind);
// The member of a paged list answer that holds its rows ("types" of crm.type.list); empty for the other kinds
// (crm.status.list answers with a bare list, a count reads only the total).
std::string_view ListKey(OpKind kind);

// One REST call. Parameters may hold whole-value back-references ($result[key][...], b24::Ref) to an earlier
// operation of the same plan; such operations must travel in the same batch as the one they refer to.
struct PlannedOp {
    std::string key;  // "o7": unique within the plan, usable as a batch key
    std::string method;
    boost::json::object params;
    OpKind kind = OpKind::kListTypes;
    std::size_t entry = 0;  // the entry it serves (reads: SIZE_MAX)
    // Context for folding the answer into the snapshot.
    std::string process;  // spec process code
    std::string funnel;   // spec funnel code
    std::int64_t entity_type_id = 0;
    std::int64_t category_id = 0;   // 0 when only a back-reference knows it yet
    std::int64_t object_id = 0;     // the row updated or deleted
    std::string count_key;          // kCountItems: the PortalSnapshot::item_counts key
    bool fresh = false;             // kListCategories of a type created by this plan: its funnels hold nothing
    std::vector<std::string> refs;  // keys of earlier operations this one refers to
};

struct PlanEntry {
    ObjectKind kind = ObjectKind::kWorkplace;
    Action action = Action::kUnchanged;
    std::string path;            // "it_request/line1/QUEUED"
    std::string note;            // what differs, or why nothing is done ("name 'General' -> 'Line 1'; sort 500 -> 100")
    std::int64_t portal_id = 0;  // the existing object, if any
    bool deferred = false;       // its operations come once an object it needs exists (a later plan)
    std::vector<std::size_t> ops;
};

struct Plan {
    std::vector<PlanEntry> entries;   // dependency order (ObjectKind), then spec order
    std::vector<PlannedOp> ops;       // execution order
    Layout layout;                    // the ids of every spec object matched in the snapshot
    std::vector<std::string> advice;  // what an admin does by hand (placements, card layout, outgoing webhook)

    // False while the plan only asks for reads it needs before deciding.
    bool Complete() const { return complete; }
    // Any create, update, drift or delete (what `plan --exit-code` reports as 2).
    bool HasChanges() const;
    bool HasWrites() const;
    std::size_t Count(Action action) const;

    bool complete = true;
    // False while the plan stops at the reads it needs before matching anything: `layout` is then empty, not the
    // ids the portal holds, and storing it would wipe the recorded ones.
    bool layout_known = true;
};

Plan MakePlan(const WorkplaceSpec& spec,
              const PortalSnapshot& snapshot,
              const Layout* stored,
              const PlanOptions& options);

// Folds the answer of one operation into the snapshot (and, for a funnel it created, into the snapshot's record
// of assigned ids). `total` is the answer's `total` (kCountItems). Fails with b24::Errc::kBadResponse when the
// answer has another shape.
Result<void> ApplyResult(PortalSnapshot& snapshot,
                         const PlannedOp& op,
                         const boost::json::value& result,
                         std::optional<std::int64_t> total);

// The human-readable plan: one line per entry ("  create    stage     it_request/line2/QUEUED  ..."), unchanged
// entries only when `verbose`, then a summary line and the advice.
std::string FormatPlan(const Plan& plan, bool verbose);
// "create=3 update=1 drift=0 delete=2 keep=0 manual=4 unchanged=60"
std::string Summary(const Plan& plan);

}  // namespace dispatch::provision
