#include "core/json_schema.hpp"

#include <fstream>
#include <string>
#include <vector>

#include "core/errc.hpp"
#include "core/json.hpp"
#include "support/test_support.hpp"

namespace dispatch::json {

// Readable gtest output for failed matchers (found by argument-dependent lookup, so outside the anonymous namespace).
void PrintTo(const SchemaProblem& p, std::ostream* os) { *os << p.path << ": " << p.reason; }

namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

bj::value J(std::string_view text) {
    auto v = Parse(text);
    EXPECT_TRUE(v.has_value()) << text;
    return v ? *v : bj::value{};
}

Schema S(std::string_view text) {
    auto s = Schema::Load(J(text));
    EXPECT_THAT(s, IsOk());
    return std::move(*s);
}

std::vector<SchemaProblem> Problems(std::string_view schema, std::string_view instance) {
    return S(schema).Validate(J(instance));
}

auto Problem(const std::string& path, const std::string& reason_part) {
    return AllOf(Field(&SchemaProblem::path, path), Field(&SchemaProblem::reason, HasSubstr(reason_part)));
}

TEST(JsonSchema, TypeMismatchNamesExpectedAndActual) {
    EXPECT_THAT(Problems(R"({"type":"integer"})", R"("5")"), ElementsAre(Problem("$", "expected integer, got string")));
    EXPECT_THAT(Problems(R"({"type":"integer"})", "5.5"), ElementsAre(Problem("$", "expected integer, got number")));
    EXPECT_THAT(Problems(R"({"type":"object"})", "[]"), ElementsAre(Problem("$", "expected object, got array")));
}

TEST(JsonSchema, IntegerAcceptsIntegralDoublesAndNumberAcceptsIntegers) {
    EXPECT_THAT(Problems(R"({"type":"integer"})", "5.0"), IsEmpty());
    EXPECT_THAT(Problems(R"({"type":"number"})", "5"), IsEmpty());
}

TEST(JsonSchema, TypeArrayAcceptsAnyListedType) {
    const auto schema = S(R"({"type":["string","null"]})");

    EXPECT_THAT(schema.Validate(J("null")), IsEmpty());
    EXPECT_THAT(schema.Validate(J(R"("x")")), IsEmpty());
    EXPECT_THAT(schema.Validate(J("true")), ElementsAre(Problem("$", "expected string or null, got boolean")));
}

TEST(JsonSchema, RequiredAndUnknownPropertiesAreReportedAtTheObject) {
    const auto schema = R"({"type":"object","properties":{"zone":{"type":"string"}},"required":["zone"],
                            "additionalProperties":false})";

    EXPECT_THAT(
        Problems(schema, R"({"foo":1})"),
        ElementsAre(Problem("$", "required property 'zone' is missing"), Problem("$", "unknown property 'foo'")));
}

TEST(JsonSchema, AdditionalPropertiesSchemaAppliesToUnlistedKeys) {
    const auto schema = R"({"properties":{"a":{"type":"string"}},"additionalProperties":{"type":"integer"}})";

    EXPECT_THAT(Problems(schema, R"({"a":"x","b":1})"), IsEmpty());
    EXPECT_THAT(Problems(schema, R"({"a":"x","b":"y"})"), ElementsAre(Problem("$.b", "expected integer")));
}

TEST(JsonSchema, PatternPropertiesMatchKeysAndCountAsKnown) {
    const auto schema = R"({"patternProperties":{"^UF_[A-Z_]+$":{"type":"string"}},"additionalProperties":false})";

    EXPECT_THAT(Problems(schema, R"({"UF_A":"x"})"), IsEmpty());
    EXPECT_THAT(Problems(schema, R"({"UF_A":1,"x":2})"),
                ElementsAre(Problem("$.UF_A", "expected string"), Problem("$", "unknown property 'x'")));
}

TEST(JsonSchema, ItemsAndPrefixItemsCheckEachElementWithItsIndex) {
    const auto schema = R"({"prefixItems":[{"type":"string"}],"items":{"type":"integer"}})";

    EXPECT_THAT(Problems(schema, R"(["a",1,2])"), IsEmpty());
    EXPECT_THAT(Problems(schema, R"([1,2,"x"])"),
                ElementsAre(Problem("$[0]", "expected string"), Problem("$[2]", "expected integer")));
}

TEST(JsonSchema, ArraySizeAndUniqueness) {
    EXPECT_THAT(Problems(R"({"minItems":2})", "[1]"), ElementsAre(Problem("$", "at least 2 items, has 1")));
    EXPECT_THAT(Problems(R"({"maxItems":1})", "[1,2]"), ElementsAre(Problem("$", "at most 1 items, has 2")));
    EXPECT_THAT(Problems(R"({"uniqueItems":true})", R"([1,{"a":1},1.0,{"a":1}])"),
                ElementsAre(Problem("$[2]", "duplicates item [0]"), Problem("$[3]", "duplicates item [1]")));
}

TEST(JsonSchema, EnumListsTheAllowedValues) {
    EXPECT_THAT(Problems(R"({"enum":["a","b",3]})", R"("c")"), ElementsAre(Problem("$", "must be one of: a, b, 3")));
    EXPECT_THAT(Problems(R"({"enum":["a","b",3]})", "3.0"), IsEmpty());
}

TEST(JsonSchema, ConstComparesStructurally) {
    EXPECT_THAT(Problems(R"({"const":{"x":[1,2]}})", R"({"x":[1,2]})"), IsEmpty());
    EXPECT_THAT(Problems(R"({"const":"line1"})", R"("line2")"), ElementsAre(Problem("$", "must be line1")));
}

TEST(JsonSchema, NumericBounds) {
    EXPECT_THAT(Problems(R"({"minimum":0})", "-1"), ElementsAre(Problem("$", "must be >= 0, is -1")));
    EXPECT_THAT(Problems(R"({"maximum":10})", "11"), ElementsAre(Problem("$", "must be <= 10, is 11")));
    EXPECT_THAT(Problems(R"({"exclusiveMinimum":0})", "0"), ElementsAre(Problem("$", "must be > 0")));
    EXPECT_THAT(Problems(R"({"exclusiveMaximum":100})", "100"), ElementsAre(Problem("$", "must be < 100")));
    EXPECT_THAT(Problems(R"({"minimum":0,"maximum":10})", "10"), IsEmpty());
    EXPECT_THAT(Problems(R"({"multipleOf":5})", "12"), ElementsAre(Problem("$", "multiple of 5")));
}

TEST(JsonSchema, StringLengthCountsCodePointsNotBytes) {
    // "Линия" is five Cyrillic letters, ten UTF-8 bytes.
    EXPECT_THAT(Problems(R"({"maxLength":5})", R"("Линия")"), IsEmpty());
    EXPECT_THAT(Problems(R"({"maxLength":4})", R"("Линия")"), ElementsAre(Problem("$", "at most 4 characters")));
    EXPECT_THAT(Problems(R"({"minLength":6})", R"("Линия")"), ElementsAre(Problem("$", "at least 6 characters")));
}

TEST(JsonSchema, PatternIsUnanchoredSearch) {
    EXPECT_THAT(Problems(R"({"pattern":"[0-9]"})", R"("ab1")"), IsEmpty());
    EXPECT_THAT(Problems(R"({"pattern":"^#[0-9A-Fa-f]{6}$"})", R"("#12345")"),
                ElementsAre(Problem("$", "does not match pattern '^#[0-9A-Fa-f]{6}$'")));
}

TEST(JsonSchema, FormatsDateTimeAndDateTimeAreChecked) {
    const auto date = R"({"format":"date"})";
    EXPECT_THAT(Problems(date, R"("2024-02-29")"), IsEmpty());
    EXPECT_THAT(Problems(date, R"("2023-02-29")"), ElementsAre(Problem("$", "not a date")));
    EXPECT_THAT(Problems(date, R"("2023-13-01")"), SizeIs(1));

    const auto time = R"({"format":"time"})";
    EXPECT_THAT(Problems(time, R"("09:30:00Z")"), IsEmpty());
    EXPECT_THAT(Problems(time, R"("09:30:00.250+03:00")"), IsEmpty());
    EXPECT_THAT(Problems(time, R"("25:00:00Z")"), ElementsAre(Problem("$", "not a time")));

    const auto date_time = R"({"format":"date-time"})";
    EXPECT_THAT(Problems(date_time, R"("2026-03-02T09:00:00+03:00")"), IsEmpty());
    EXPECT_THAT(Problems(date_time, R"("2026-03-02 09:00:00")"), ElementsAre(Problem("$", "not a date-time")));
}

TEST(JsonSchema, UnknownFormatsAreAnnotations) {
    EXPECT_THAT(Problems(R"({"format":"email"})", R"("not an email")"), IsEmpty());
}

TEST(JsonSchema, AllOfCollectsEveryBranchProblem) {
    EXPECT_THAT(Problems(R"({"allOf":[{"minimum":5},{"maximum":1}]})", "3"),
                ElementsAre(Problem("$", ">= 5"), Problem("$", "<= 1")));
}

TEST(JsonSchema, AnyOfPassesWhenOneBranchMatches) {
    const auto schema = R"({"anyOf":[{"type":"string"},{"type":"integer","minimum":0}]})";

    EXPECT_THAT(Problems(schema, "1"), IsEmpty());
    EXPECT_THAT(Problems(schema, R"("x")"), IsEmpty());
    EXPECT_THAT(Problems(schema, "-1"),
                ElementsAre(Problem("$", "none of the 2 alternatives of anyOf"), Problem("$", "must be >= 0")));
}

TEST(JsonSchema, OneOfReportsTheClosestBranchWhenNothingMatches) {
    // A discriminated union: the "kind" const tells which branch the author meant.
    const auto schema = R"({"oneOf":[
        {"type":"object","properties":{"kind":{"const":"notify"},"to":{"type":"string"}},"required":["kind","to"]},
        {"type":"object","properties":{"kind":{"const":"move"},"funnel":{"type":"string"}},
         "required":["kind","funnel"]}]})";

    const auto problems = Problems(schema, R"({"kind":"move","funnel":7})");

    EXPECT_THAT(problems, ElementsAre(Problem("$", "closest is branch 1"), Problem("$.funnel", "expected string")));
}

TEST(JsonSchema, OneOfRejectsAValueMatchingTwoBranches) {
    EXPECT_THAT(Problems(R"({"oneOf":[{"type":"integer"},{"minimum":0}]})", "3"),
                ElementsAre(Problem("$", "more than one alternative of oneOf (branches 0 and 1)")));
    EXPECT_THAT(Problems(R"({"oneOf":[{"type":"integer"},{"minimum":0}]})", "-3"), IsEmpty());
}

TEST(JsonSchema, NotInvertsItsSchema) {
    EXPECT_THAT(Problems(R"({"not":{"const":"x"}})", R"("y")"), IsEmpty());
    EXPECT_THAT(Problems(R"({"not":{"const":"x"}})", R"("x")"), ElementsAre(Problem("$", "must not match")));
}

TEST(JsonSchema, IfThenElseChoosesByTheCondition) {
    const auto schema = R"({"if":{"properties":{"kind":{"const":"percent"}}},
                            "then":{"properties":{"value":{"maximum":100}}},
                            "else":{"properties":{"value":{"type":"integer"}}}})";

    EXPECT_THAT(Problems(schema, R"({"kind":"percent","value":50.5})"), IsEmpty());
    EXPECT_THAT(Problems(schema, R"({"kind":"percent","value":150})"), ElementsAre(Problem("$.value", "<= 100")));
    EXPECT_THAT(Problems(schema, R"({"kind":"minutes","value":1.5})"),
                ElementsAre(Problem("$.value", "expected integer")));
}

TEST(JsonSchema, RefResolvesDefsAndDefinitionsIncludingRecursion) {
    const auto schema = R"({"$defs":{"node":{"type":"object","properties":{"name":{"type":"string"},
                              "children":{"type":"array","items":{"$ref":"#/$defs/node"}}}}},
                            "definitions":{"hhmm":{"type":"string","pattern":"^[0-2][0-9]:[0-5][0-9]$"}},
                            "properties":{"tree":{"$ref":"#/$defs/node"},"at":{"$ref":"#/definitions/hhmm"}}})";

    const auto problems = Problems(schema, R"({"tree":{"name":"a","children":[{"name":"b","children":[{"name":1}]}]},
                                              "at":"9:00"})");

    EXPECT_THAT(problems,
                ElementsAre(Problem("$.tree.children[0].children[0].name", "expected string"),
                            Problem("$.at", "does not match pattern")));
}

TEST(JsonSchema, MinorObjectKeywords) {
    EXPECT_THAT(Problems(R"({"minProperties":1})", "{}"), ElementsAre(Problem("$", "at least 1 properties")));
    EXPECT_THAT(Problems(R"({"maxProperties":1})", R"({"a":1,"b":2})"), ElementsAre(Problem("$", "at most 1")));
    EXPECT_THAT(Problems(R"({"propertyNames":{"pattern":"^[a-z]+$"}})", R"({"ok":1,"Bad":2})"),
                ElementsAre(Problem("$", "property name 'Bad'")));
    EXPECT_THAT(Problems(R"({"dependentRequired":{"from":["to"]}})", R"({"from":1})"),
                ElementsAre(Problem("$", "property 'from' requires property 'to'")));
}

TEST(JsonSchema, BooleanSchemas) {
    EXPECT_THAT(Problems("true", R"({"anything":1})"), IsEmpty());
    EXPECT_THAT(Problems(R"({"properties":{"gone":false}})", R"({"gone":1})"),
                ElementsAre(Problem("$.gone", "no value is allowed")));
}

TEST(JsonSchema, AnnotationsAreIgnored) {
    EXPECT_THAT(Problems(R"({"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"x","title":"t",
                            "description":"d","default":1,"examples":[1],"$comment":"c","x-ui":{}})",
                         "1"),
                IsEmpty());
}

TEST(JsonSchema, MultiErrorDocumentReportsEveryProblemWithItsPath) {
    const auto schema = R"({
        "type":"object","additionalProperties":false,"required":["calendars"],
        "properties":{"calendars":{"type":"array","items":{"$ref":"#/$defs/calendar"}}},
        "$defs":{"calendar":{"type":"object","additionalProperties":false,"required":["code","zone"],
            "properties":{"code":{"type":"string","pattern":"^[a-z0-9_]+$"},"zone":{"type":"string"},
                "hours":{"type":"object","propertyNames":{"enum":["mon","tue","wed","thu","fri","sat","sun"]},
                    "additionalProperties":{"type":"array","items":{"type":"array","prefixItems":[
                        {"type":"string"},{"type":"string"}],"minItems":2,"maxItems":2}}}}}}})";
    const auto doc = R"({"calendars":[
        {"code":"office","zone":"Europe/Moscow","hours":{"mon":[["09:00","18:00"]]}},
        {"code":"Bad Code","hours":{"mon":[[9,"18:00"]],"xyz":[]},"foo":true}],
        "extra":1})";

    const auto problems = Problems(schema, doc);

    EXPECT_THAT(problems,
                ElementsAre(Problem("$.calendars[1]", "required property 'zone' is missing"),
                            Problem("$.calendars[1].code", "does not match pattern"),
                            Problem("$.calendars[1].hours.mon[0][0]", "expected string, got integer"),
                            Problem("$.calendars[1].hours", "property name 'xyz'"),
                            Problem("$.calendars[1]", "unknown property 'foo'"),
                            Problem("$", "unknown property 'extra'")));
}

TEST(JsonSchema, CheckFoldsProblemsIntoOneInvalidError) {
    const auto schema = S(R"({"properties":{"a":{"type":"string"},"b":{"type":"string"}}})");

    const auto result = schema.Check(J(R"({"a":1,"b":2})"));

    ASSERT_THAT(result, HasErrc(CoreErrc::kInvalid));
    EXPECT_EQ(result.error().detail, "$.a: expected string, got integer; $.b: expected string, got integer");
    EXPECT_THAT(schema.Check(J(R"({"a":"x"})")), IsOk());
}

TEST(JsonSchemaLoad, RejectsRemoteAndDanglingReferences) {
    EXPECT_THAT(Schema::Load(J(R"({"$ref":"https://example.com/s.json"})")), HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(Schema::Load(J(R"({"$ref":"other.json#/$defs/x"})")), HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(Schema::Load(J(R"({"$ref":"#/$defs/missing"})")), HasErrc(CoreErrc::kInvalid));
}

TEST(JsonSchemaLoad, RejectsMalformedKeywordsWithTheirSchemaPath) {
    const auto bad_type = Schema::Load(J(R"({"properties":{"a":{"type":"text"}}})"));
    ASSERT_THAT(bad_type, HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(bad_type.error().detail, HasSubstr("#/properties/a/type"));

    EXPECT_THAT(Schema::Load(J(R"({"pattern":"([a-z"})")), HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(Schema::Load(J(R"({"minItems":-1})")), HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(Schema::Load(J(R"({"minimum":"5"})")), HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(Schema::Load(J(R"({"oneOf":[]})")), HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(Schema::Load(J("42")), HasErrc(CoreErrc::kInvalid));
}

TEST(JsonSchemaLoad, RefusesValidationKeywordsItWouldOtherwiseIgnore) {
    EXPECT_THAT(Schema::Load(J(R"({"contains":{"const":1}})")), HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(Schema::Load(J(R"({"unevaluatedProperties":false})")), HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(Schema::Load(J(R"({"items":[{"type":"string"}]})")), HasErrc(CoreErrc::kInvalid));
}

TEST(JsonSchemaLoad, LoadFileNamesTheFileOnError) {
    dispatch::testing::TempDir dir;
    const auto path = dir.File("bad.schema.json");
    { std::ofstream(path) << R"({"type":"nope"})"; }

    const auto result = Schema::LoadFile(path);

    ASSERT_THAT(result, HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(result.error().detail, HasSubstr(path));
    EXPECT_THAT(Schema::LoadFile(dir.File("missing.json")), HasErrc(CoreErrc::kIo));
}

TEST(JsonSchema, SelfReferenceCycleTerminates) {
    const auto problems = Problems(R"({"$defs":{"a":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"})", "1");

    EXPECT_THAT(problems, Contains(Problem("$", "too deep")));
}

TEST(JsonSchema, CopiesShareTheCompiledSchema) {
    const Schema original = S(R"({"type":"string","pattern":"^a"})");
    const Schema copy = original;  // NOLINT(performance-unnecessary-copy-initialization): the copy is the subject

    EXPECT_THAT(copy.Validate(J(R"("b")")), SizeIs(1));
    EXPECT_THAT(original.Validate(J(R"("a")")), IsEmpty());
}

}  // namespace
}  // namespace dispatch::json
