#include "store/migrations.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "store/errc.hpp"

namespace dispatch::store {

namespace detail {
// Defined in the generated embedded_migrations.cpp.
const std::vector<Migration>& EmbeddedSqlite();
const std::vector<Migration>& EmbeddedPostgres();
}  // namespace detail

const std::vector<Migration>& EmbeddedMigrations(SchemaBackend backend) {
    return backend == SchemaBackend::kSqlite ? detail::EmbeddedSqlite() : detail::EmbeddedPostgres();
}

Result<void> ValidateMigrations(const std::vector<Migration>& migrations) {
    for (std::size_t i = 0; i < migrations.size(); ++i) {
        const auto expected = static_cast<std::int64_t>(i) + 1;
        if (migrations[i].version != expected) {
            return Fail(Errc::kMigration,
                        fmt::format("migration {} ({}) found where version {} was expected",
                                    migrations[i].version,
                                    migrations[i].name,
                                    expected));
        }
    }
    return {};
}

Result<std::vector<Migration>> LoadMigrations(const std::string& dir) {
    namespace fs = std::filesystem;
    std::vector<Migration> out;
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) {
        return Fail(Errc::kIo, fmt::format("cannot list migrations in {}: {}", dir, ec.message()));
    }
    for (const auto& entry : it) {
        const std::string file = entry.path().filename().string();
        // NNNN_name.sql: four digits, an underscore, a name, ".sql".
        if (file.size() < 10 || file.substr(file.size() - 4) != ".sql" || file[4] != '_' ||
            !std::all_of(file.begin(), file.begin() + 4, [](unsigned char c) { return std::isdigit(c) != 0; })) {
            continue;
        }
        std::ifstream in(entry.path(), std::ios::binary);
        if (!in) {
            return Fail(Errc::kIo, fmt::format("cannot read migration {}", entry.path().string()));
        }
        std::ostringstream text;
        text << in.rdbuf();
        out.push_back(Migration{std::stoll(file.substr(0, 4)), file.substr(5, file.size() - 9), text.str()});
    }
    std::sort(out.begin(), out.end(), [](const Migration& a, const Migration& b) { return a.version < b.version; });
    if (auto valid = ValidateMigrations(out); !valid) {
        return valid.error();
    }
    return out;
}

Result<std::vector<Migration>> SelectMigrations(SchemaBackend backend, const std::string& dir) {
    if (dir.empty()) {
        return EmbeddedMigrations(backend);
    }
    return LoadMigrations(dir);
}

Result<std::vector<const Migration*>> PendingMigrations(const std::vector<Migration>& known,
                                                        const std::vector<AppliedMigration>& applied) {
    const auto latest = known.empty() ? 0 : known.back().version;
    for (const auto& a : applied) {
        if (a.version < 1) {
            return Fail(Errc::kMigration, fmt::format("schema_migrations holds version {}", a.version));
        }
        if (a.version > latest) {
            // Rolling back to an older build after a newer one migrated the file: the old code cannot know what
            // the new columns mean, so refuse rather than corrupt.
            return Fail(Errc::kMigration,
                        fmt::format("database schema version {} ({}) is newer than this build "
                                    "(latest {}); refusing to start",
                                    a.version,
                                    a.name,
                                    latest));
        }
        const auto& k = known[static_cast<std::size_t>(a.version - 1)];
        if (k.name != a.name) {
            return Fail(
                Errc::kMigration,
                fmt::format(
                    "database has migration {} named '{}', this build calls it '{}'", a.version, a.name, k.name));
        }
    }
    std::vector<const Migration*> pending;
    for (const auto& m : known) {
        const bool done = std::any_of(
            applied.begin(), applied.end(), [&](const AppliedMigration& a) { return a.version == m.version; });
        if (!done) {
            pending.push_back(&m);
        }
    }
    return pending;
}

}  // namespace dispatch::store
