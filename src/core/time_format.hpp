#pragma once
// ISO 8601 at the edges: Bitrix24 writes "2026-03-02T09:00:00+03:00"; we store and compute TimeMs (UTC ms).

#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace dispatch {

// Accepts "YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM|±HHMM)" and "YYYY-MM-DD HH:MM:SS" (taken as UTC).
Result<TimeMs> ParseIso8601(std::string_view text);
// "2026-03-02T06:00:00Z" (milliseconds shown only when non-zero), or with a fixed offset: "2026-03-02T09:00:00+03:00".
std::string FormatIso8601(TimeMs t, int offset_minutes = 0);
// Civil date helpers in UTC.
TimeMs FromCivilUtc(int year, unsigned month, unsigned day, int hour = 0, int minute = 0, int second = 0);

}  // namespace dispatch
