#pragma once
// The portal state as one JSON document: what /_emu/state returns and what `b24emu --state FILE` saves on SIGTERM
// and loads on start. Times are TimeMs numbers; item values are stored as kept in memory.

#include <boost/json.hpp>
#include <string>

#include "core/error.hpp"
#include "emulator/model.hpp"

namespace dispatch::emulator {

boost::json::value StateToJson(const PortalState& state);
// Fails (CoreErrc::kInvalid) on a document that is not an object with the expected arrays.
Result<PortalState> StateFromJson(const boost::json::value& v);

Result<void> SaveState(const PortalState& state, const std::string& path);
Result<PortalState> LoadState(const std::string& path);

}  // namespace dispatch::emulator
