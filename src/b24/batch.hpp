#pragma once
// `batch`: up to 50 sub-calls in one HTTP request (settings/how-to-call-rest-api/batch.md). Each sub-call is the
// string "method?query" where query is the PHP-style (http_build_query) encoding of its params with bracket keys:
// {"filter":{">id":5},"select":["id","title"]} → "filter[%3Eid]=5&select[0]=id&select[1]=title". A value that
// is a whole back-reference ("$result[me][ID]", see Ref) is written unencoded so the portal can substitute it.

#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace dispatch::b24 {

namespace bj = boost::json;

// batch.md: more sub-calls fail with 400 ERROR_BATCH_LENGTH_EXCEEDED.
constexpr std::size_t kMaxBatchCalls = 50;

// http_build_query-style encoding of `params` (RFC 3986 unreserved characters kept, brackets literal, arrays as
// key[0], key[1]; true/false → 1/0; null and empty containers are skipped, as PHP does).
std::string EncodeQuery(const bj::object& params);
// Percent-encodes one key segment or value.
std::string PercentEncode(std::string_view text);

// "$result[key][field][0]": the result of an earlier sub-call of the same batch.
std::string Ref(std::string_view key, std::initializer_list<std::string_view> path = {});
// True when `value` is a whole back-reference of the form Ref produces.
bool IsRef(std::string_view value);
// The keys that "$result[key]..." anywhere in `params` (strings at any depth, whole or embedded) refer to.
std::set<std::string> RefsIn(const bj::value& params);

struct BatchCall {
    std::string key{};     // [A-Za-z0-9_.-]+, unique in its batch
    std::string method{};  // e.g. "crm.item.get"
    bj::object params{};
};

class BatchBuilder {
public:
    explicit BatchBuilder(bool halt = false) : halt_(halt) {}

    // Errc::kBatchTooLong for the 51st call; Errc::kInvalidArgument for a bad or duplicate key or method name.
    [[nodiscard]] Result<void> Add(std::string key, std::string method, bj::object params = {});
    [[nodiscard]] Result<void> Add(BatchCall call);

    void SetHalt(bool halt) { halt_ = halt; }
    bool Halt() const { return halt_; }
    std::size_t Size() const { return calls_.size(); }
    bool Empty() const { return calls_.empty(); }
    const std::vector<BatchCall>& Calls() const { return calls_; }

    // The params of the `batch` method: {"halt":0|1,"cmd":{"key":"method?query",...}} in insertion order.
    bj::object Params() const;

private:
    bool halt_;
    std::vector<BatchCall> calls_{};
};

// Splits independent calls into batches of at most `per_batch` (120 → 50 + 50 + 20), keeping order. Fails with
// Errc::kInvalidArgument when a call refers ($result[k]) to a key that lands in another batch, or on a bad or
// duplicate key; Errc::kBatchTooLong never (per_batch is clamped to 1..50).
Result<std::vector<BatchBuilder>> SplitIntoBatches(std::vector<BatchCall> calls,
                                                   bool halt = false,
                                                   std::size_t per_batch = kMaxBatchCalls);

struct SubResult {
    std::optional<bj::value> result{};  // set on success (may hold null: e.g. crm.category.delete)
    std::optional<Error> error{};       // set on failure; code from FromApiError(200, error, description)
    std::optional<std::int64_t> total{};
    std::optional<std::int64_t> next{};

    bool Ok() const { return !error.has_value(); }
};

struct BatchResult {
    std::map<std::string, SubResult> by_key{};

    // The result of `key`, or its error; Errc::kInvalidArgument when the key was not in the batch.
    Result<bj::value> Get(const std::string& key) const;
    std::size_t ErrorCount() const;
};

// Parses the `result` member of a batch answer (its inner result/result_error/result_total/result_next maps,
// each of which may be {} or [] — PHP serialises empty and 0..n-1 keyed maps as arrays). Keys of `batch` that
// appear in no map ran with no result (null), or, with halt after a failure, did not run: Errc::kApiError.
Result<BatchResult> ParseBatchResult(const BatchBuilder& batch, const bj::value& result);

}  // namespace dispatch::b24
