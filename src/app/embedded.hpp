#pragma once
// Texts compiled into the binaries from the source tree (schemas), so they run from any directory.

#include <string_view>

namespace dispatch::app {

extern const std::string_view kConfigSchema;  // schemas/config.schema.json
extern const std::string_view kSlaSchema;     // schemas/sla.schema.json

}  // namespace dispatch::app
