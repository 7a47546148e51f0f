#pragma once
// The declarative workplace spec (workplace/helpdesk.json, schemas/workplace.schema.json) as a typed model: what
// provisioning creates in a portal and what the planner diffs against what the portal has. Every object carries a
// stable code; Bitrix24 ids (entityTypeId, type id, category and stage ids) are never in the spec, they are stored
// per portal once provisioning has created or matched the object.

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "core/json_schema.hpp"

namespace dispatch::provision {

// Text per UI language ("en" always present): {"en": "New", "ru": "Новая"}.
struct LocalizedText {
    std::map<std::string, std::string> by_language;

    // The text in `language`, else the English one.
    const std::string& Get(std::string_view language) const;
    bool operator==(const LocalizedText&) const = default;
};

// What the SLA engine makes of a stage (DESIGN §4).
enum class StageRole { kNew, kQueued, kInProgress, kWaiting, kReview, kDone, kRejected };
// crm.status SEMANTICS: "" (in progress), "S", "F" (CONTRACT §7.2).
enum class StageSemantics { kProcess, kSuccess, kFailure };

std::string_view ToString(StageRole role);
std::optional<StageRole> ParseStageRole(std::string_view text);
std::string_view ToString(StageSemantics semantics);
std::optional<StageSemantics> ParseStageSemantics(std::string_view text);
// done -> success, rejected -> failure, every other role -> process.
StageSemantics SemanticsOf(StageRole role);

struct StageSpec {
    std::string code;  // STATUS_ID suffix: DT{entityTypeId}_{categoryId}:{code}
    StageRole role = StageRole::kNew;
    LocalizedText name;
    std::string color;  // "#RRGGBB"
    int sort = 0;
    StageSemantics semantics = StageSemantics::kProcess;
};

struct FunnelSpec {
    std::string code;
    LocalizedText name;
    bool is_default = false;
    int sort = 0;
    std::vector<StageSpec> stages;  // in file order; Bitrix24 orders by sort

    const StageSpec* FindStage(std::string_view stage_code) const;
    // The first stage (in file order) with this role, or nullptr.
    const StageSpec* StageWithRole(StageRole role) const;
};

// userfieldconfig userTypeId values (CONTRACT §9.1).
enum class FieldType {
    kString,
    kInteger,
    kDouble,
    kBoolean,
    kDate,
    kDateTime,
    kEnumeration,
    kEmployee,
    kMoney,
    kUrl,
    kFile,
    kCrm,
    kCrmStatus,
    kAddress,
};
std::string_view ToString(FieldType type);  // the userTypeId
std::optional<FieldType> ParseFieldType(std::string_view text);

// Who writes a field: requesters and agents in the UI, or the service (SLA write-back; our writes raise events too,
// so the service compares values before writing).
enum class FieldWriter { kUser, kService };

struct EnumItemSpec {
    std::string xml_id;  // the stable key (sla.json routing refers to it)
    std::string value;   // the text Bitrix24 shows
    int sort = 0;
};

struct FieldSpec {
    std::string code;  // suffix: the field is UF_CRM_{type id}_{code}
    FieldType type = FieldType::kString;
    LocalizedText label;
    std::optional<LocalizedText> help;
    bool multiple = false;  // immutable after creation
    bool mandatory = false;
    bool show_filter = false;
    bool searchable = false;
    int sort = 100;
    FieldWriter written_by = FieldWriter::kUser;
    boost::json::object settings;             // per-type settings, Bitrix24 names (DISPLAY, PRECISION, ...)
    std::vector<EnumItemSpec> items;          // enumeration only
    std::optional<std::string> default_item;  // xml_id of the default option

    // "UF_CRM_21_SLA_STATE" for type id 21 (the type `id`, not entityTypeId: CONTRACT §9).
    std::string UfName(std::int64_t type_id) const;
    const EnumItemSpec* FindItem(std::string_view xml_id) const;
};

// crm.type flags (CONTRACT §5.2). nullopt: not managed (the portal keeps its value; no drift reported).
struct TypeFeatures {
    std::optional<bool> is_categories_enabled;
    std::optional<bool> is_stages_enabled;
    std::optional<bool> is_begin_close_dates_enabled;
    std::optional<bool> is_client_enabled;
    std::optional<bool> is_observers_enabled;
    std::optional<bool> is_automation_enabled;
    std::optional<bool> is_biz_proc_enabled;
    std::optional<bool> is_documents_enabled;
    std::optional<bool> is_link_with_products_enabled;
    std::optional<bool> is_mycompany_enabled;
    std::optional<bool> is_recyclebin_enabled;
    std::optional<bool> is_source_enabled;
    std::optional<bool> is_set_open_permissions;
    std::optional<bool> is_use_in_userfield_enabled;

    // The managed flags under their Bitrix24 names ("isCategoriesEnabled", ...), in CONTRACT §5.2 order, for the
    // planner to compare with crm.type.get and to send as "Y"/"N".
    std::vector<std::pair<std::string_view, bool>> Managed() const;
};

// NOT APPLIED by provisioning: the card layout is not part of the REST contract we rely on; it is printed as advice.
struct CardSectionSpec {
    std::string code;
    LocalizedText title;
    std::vector<std::string> fields;  // custom field codes (upper case) or item system fields (camelCase)
};
struct CardLayoutSpec {
    std::vector<CardSectionSpec> sections;
};

enum class ProcessPurpose { kRequests, kKpi };

struct SmartProcessSpec {
    std::string code;  // sent as crm.type `code`; how an existing type is recognised
    std::string title;
    ProcessPurpose purpose = ProcessPurpose::kRequests;
    TypeFeatures features;
    bool remove_unlisted_stages = false;
    std::vector<FunnelSpec> funnels;
    std::vector<FieldSpec> fields;
    std::optional<CardLayoutSpec> card_layout;

    const FunnelSpec* FindFunnel(std::string_view funnel_code) const;
    const FunnelSpec* DefaultFunnel() const;
    const FieldSpec* FindField(std::string_view field_code) const;
};

enum class RobotPropertyType { kBool, kDate, kDateTime, kDouble, kInt, kSelect, kString, kText, kUser };
std::string_view ToString(RobotPropertyType type);  // bizproc PROPERTY Type

struct RobotPropertySpec {
    std::string code;
    LocalizedText name;
    std::optional<LocalizedText> description;
    RobotPropertyType type = RobotPropertyType::kString;
    bool required = false;
    bool multiple = false;
    std::vector<std::pair<std::string, std::string>> options;  // select: value -> title, file order
    std::optional<boost::json::value> default_value;
};

// A stage whose automation rules run the robot. Not applied through REST (no documented method places a robot);
// provisioning lists these for the admin.
struct RobotPlacement {
    std::string funnel;
    std::string stage;
};

struct RobotSpec {
    std::string code;
    std::string handler;  // "/b24/robots/{code}", below the service's public_url
    LocalizedText name;
    std::optional<LocalizedText> description;
    std::string process;  // smart process code: DOCUMENT_TYPE is DYNAMIC_{its entityTypeId}
    bool use_subscription = true;
    std::vector<RobotPropertySpec> properties;
    std::vector<RobotPropertySpec> return_properties;
    std::vector<RobotPlacement> used_in;
};

struct EventBindingSpec {
    std::string event;    // "ONCRMDYNAMICITEMADD"
    std::string handler;  // "/b24/events"
};

struct WorkplaceInfo {
    std::string code;   // ours; crm.automatedsolution has only a title
    std::string title;  // "IT: HelpDesk"
};

struct WorkplaceSpec {
    int version = 1;
    std::string language = "en";  // which LocalizedText goes to single-string Bitrix24 fields
    WorkplaceInfo workplace;
    std::vector<SmartProcessSpec> smart_processes;
    std::vector<RobotSpec> robots;
    std::vector<EventBindingSpec> events;

    const SmartProcessSpec* FindProcess(std::string_view process_code) const;
    // The loader guarantees exactly one kRequests process; nullptr for kKpi when there is none.
    const SmartProcessSpec* ProcessFor(ProcessPurpose purpose) const;
    const RobotSpec* FindRobot(std::string_view robot_code) const;
};

// Field codes the service reads and writes; the loader checks that the spec declares each with this type, so a
// renamed or retyped field fails at load time rather than at the first write-back.
namespace field_codes {
inline constexpr std::string_view kTemplate = "TEMPLATE";
inline constexpr std::string_view kPriority = "PRIORITY";
inline constexpr std::string_view kReactionDue = "SLA_REACTION_DUE";
inline constexpr std::string_view kResolutionDue = "SLA_RESOLUTION_DUE";
inline constexpr std::string_view kSlaState = "SLA_STATE";
inline constexpr std::string_view kEscalationLevel = "SLA_ESCALATION_LEVEL";
inline constexpr std::string_view kLine = "SLA_LINE";
inline constexpr std::string_view kReturns = "SLA_RETURNS";
inline constexpr std::string_view kReactionMinutes = "SLA_REACTION_MINUTES";
inline constexpr std::string_view kResolutionMinutes = "SLA_RESOLUTION_MINUTES";
inline constexpr std::string_view kReactionOnTime = "SLA_REACTION_ON_TIME";
inline constexpr std::string_view kResolutionOnTime = "SLA_RESOLUTION_ON_TIME";
inline constexpr std::string_view kAutoAccepted = "SLA_AUTO_ACCEPTED";

inline constexpr std::string_view kKpiKey = "KPI_KEY";
inline constexpr std::string_view kKpiPeriodKind = "KPI_PERIOD_KIND";
inline constexpr std::string_view kKpiPeriodStart = "KPI_PERIOD_START";
inline constexpr std::string_view kKpiScopeKind = "KPI_SCOPE_KIND";
inline constexpr std::string_view kKpiScopeValue = "KPI_SCOPE_VALUE";
inline constexpr std::string_view kKpiCreated = "KPI_CREATED";
inline constexpr std::string_view kKpiClosed = "KPI_CLOSED";
inline constexpr std::string_view kKpiAutoClosed = "KPI_AUTO_CLOSED";
inline constexpr std::string_view kKpiReactionMedian = "KPI_REACTION_MEDIAN";
inline constexpr std::string_view kKpiReactionP90 = "KPI_REACTION_NINETIETH";
inline constexpr std::string_view kKpiResolutionMedian = "KPI_RESOLUTION_MEDIAN";
inline constexpr std::string_view kKpiResolutionP90 = "KPI_RESOLUTION_NINETIETH";
inline constexpr std::string_view kKpiReactionOnTimePercent = "KPI_REACTION_ON_TIME_PERCENT";
inline constexpr std::string_view kKpiResolutionOnTimePercent = "KPI_RESOLUTION_ON_TIME_PERCENT";
inline constexpr std::string_view kKpiReturns = "KPI_RETURNS";
inline constexpr std::string_view kKpiReturnRate = "KPI_RETURN_RATE";
inline constexpr std::string_view kKpiAutoAcceptedShare = "KPI_AUTO_ACCEPTED_SHARE";
inline constexpr std::string_view kKpiOpenLoad = "KPI_OPEN_LOAD";
}  // namespace field_codes

struct RequiredField {
    std::string_view code;
    FieldType type;
};
// What the requests process and the KPI process must declare (codes above, with their types).
const std::vector<RequiredField>& RequiredRequestFields();
const std::vector<RequiredField>& RequiredKpiFields();

// Reads the spec and the schema, validates the spec against the schema, then checks the rules the schema cannot
// express, and builds the model. Fails with CoreErrc::kIo / kParse for unreadable files and CoreErrc::kInvalid when
// the spec breaks the schema or a rule; the detail lists every problem as "path: reason; path: reason" with JSON
// paths into the spec ("$.smart_processes[0].funnels[1].stages[5]: ...").
Result<WorkplaceSpec> LoadWorkplaceSpec(const std::string& path, const std::string& schema_path);

// The same for an already parsed document (tests, or a spec embedded elsewhere).
Result<WorkplaceSpec> BuildWorkplaceSpec(const boost::json::value& doc, const json::Schema& schema);

// The rules beyond the schema, on a model built from a schema-valid document; paths point into that document.
// Unique codes at every level; per process at most one of each purpose (exactly one requests process); per funnel
// list: exactly one default funnel; per funnel: exactly one success stage, at least one failure stage, role and
// semantics consistent, exactly one `new` stage sorting first, in-progress < success < failure by sort; enumeration
// defaults name an item; required service fields present with their types; robots reference an existing process,
// funnel and stage, with handler /b24/robots/{code}; card layouts reference declared fields; features consistent
// with funnels.
std::vector<json::SchemaProblem> CheckWorkplaceRules(const WorkplaceSpec& spec);

}  // namespace dispatch::provision
