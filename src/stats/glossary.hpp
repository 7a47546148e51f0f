#pragma once
// The one glossary of the statistics (issue #8): every figure the API, the CSV, the dashboard and the KPI items
// show, defined once, in words a help-desk manager reads. Served with the data (render.hpp) so that the page never
// carries a definition of its own.

#include <string_view>
#include <vector>

namespace dispatch::stats {

struct GlossaryEntry {
    std::string_view key;    // the figure's name in the JSON ("reaction.business.median") or a general term
    std::string_view title;  // short label
    std::string_view definition;
};

const std::vector<GlossaryEntry>& Glossary();

}  // namespace dispatch::stats
