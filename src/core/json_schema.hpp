#pragma once
// A validator for the subset of JSON Schema (draft 2020-12 vocabulary) that schemas/*.schema.json use:
// type (incl. arrays of types), properties, required, additionalProperties (bool or schema), patternProperties,
// items, prefixItems, minItems, maxItems, uniqueItems, enum, const, minimum, maximum, exclusiveMinimum,
// exclusiveMaximum, minLength, maxLength, pattern (ECMAScript via std::regex), format (date, time, date-time:
// checked), oneOf, anyOf, allOf, not, if/then/else, $ref to "#/$defs/..." in the same document, $defs.
// Unknown keywords are ignored ("title", "description", "default", "examples", "$schema", "$id").
// Also checked: multipleOf, minProperties, maxProperties, propertyNames, dependentRequired. Validation keywords
// outside the subset (contains, unevaluated*, dependentSchemas, $dynamicRef, array-form items) make Load fail
// rather than be silently ignored. format follows RFC 3339 (time needs seconds and an offset); other formats are
// annotations. pattern works on bytes, minLength/maxLength count code points.
//
// Every problem is reported, not only the first, each with the JSON path of the offending value
// ("$.calendars[1].hours.mon[0]") and a short reason. Config loaders join them into one error.

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace dispatch::json {

struct CompiledSchema;  // json_schema.cpp: the schema compiled once at Load (regexes, resolved $refs)

struct SchemaProblem {
    std::string path;    // "$.a.b[2]"
    std::string reason;  // "required property 'zone' is missing"
};

class Schema {
public:
    // Fails (CoreErrc::kInvalid) when the schema itself uses a keyword in a way this validator cannot honour.
    static Result<Schema> Load(const boost::json::value& schema);
    static Result<Schema> LoadFile(const std::string& path);

    std::vector<SchemaProblem> Validate(const boost::json::value& instance) const;

    // Validate and fold all problems into one Error (CoreErrc::kInvalid), detail "path: reason; path: reason".
    Result<void> Check(const boost::json::value& instance) const;

private:
    explicit Schema(boost::json::value root) : root_(std::move(root)) {}
    boost::json::value root_;
    std::shared_ptr<const CompiledSchema> compiled_;
};

}  // namespace dispatch::json
