// What provisioning costs in REST requests (each counts once against the portal's leaky bucket, CONTRACT §3):
// b24emu as a real process, the shipped workplace/helpdesk.json, OAuth (so event bindings and robots are included),
// and the count taken from the emulator's own request log. Prints for scripts/bench.sh:
//   bench provision.rest_calls <n> calls                  a fresh apply, reads included
//   bench provision.rest_calls_minimum <n> calls          the floor batching allows for the same work (see below)
//   bench provision.rest_calls_second_apply <n> calls     an apply with nothing to do (reads only)
//   bench provision.write_calls <n> calls                 the write calls a fresh apply sends (inside batches)
// The plan and the progress lines go to stderr.
#include <fmt/format.h>

#include <cstdlib>
#include <iostream>

#include "b24/batch.hpp"
#include "core/json.hpp"
#include "emu_portal.hpp"
#include "provision/provisioner.hpp"

namespace {

using namespace dispatch;

[[noreturn]] void Die(const std::string& why) {
    std::cerr << "bench_provision: " << why << "\n";
    std::exit(1);
}

}  // namespace

int main() {
    auto spec = provision::LoadWorkplaceSpec(dispatch::testing::SourcePath("workplace/helpdesk.json"),
                                             dispatch::testing::SourcePath("schemas/workplace.schema.json"));
    if (!spec) {
        Die("spec: " + spec.error().detail);
    }
    dispatch::testing::TempDir dir;
    dispatch::testing::EmuPortal emu;
    std::string error;
    if (!emu.Start(B24EMU_BIN, dir.File("b24emu.log"), error)) {
        Die("cannot start b24emu: " + error);
    }
    dispatch::testing::EmuClient app(emu, dispatch::testing::EmuClient::Mode::kOAuth);

    provision::ProvisionOptions options;
    options.apply = true;
    options.plan.app_context = true;
    options.plan.public_url = "https://dispatch.bench";
    options.on_plan = [](const provision::Plan& plan) { std::cerr << provision::FormatPlan(plan, false); };
    options.progress = [](const std::string& line) { std::cerr << line << "\n"; };
    std::string layout;
    options.save_layout = [&](const provision::Layout& l) -> Result<void> {
        layout = json::Dump(l.ToJson());
        return {};
    };

    const auto before = emu.Requests().size();
    auto fresh = provision::Provision(app.Get(), *spec, nullptr, options);
    if (!fresh) {
        Die("fresh apply: " + fresh.error().detail);
    }
    const auto after_fresh = emu.Requests().size();

    auto stored = provision::Layout::FromJson(*json::Parse(layout));
    if (!stored) {
        Die("layout: " + stored.error().detail);
    }
    auto second = provision::Provision(app.Get(), *spec, &*stored, options);
    if (!second) {
        Die("second apply: " + second.error().detail);
    }
    const auto after_second = emu.Requests().size();
    if (second->write_calls != 0) {
        Die(fmt::format("second apply wrote {} times", second->write_calls));
    }

    // The floor for the same work: one request to read an empty portal; one for every call that needs no id
    // from the portal or only a whole-value back-reference (the workplace, the types, the link, the funnels, the
    // event bindings: the writes of the first complete plan); then the calls that need an id inside a string
    // (CRM_{id}, DYNAMIC_{e}_STAGE_{c}, DYNAMIC_{e}), which no back-reference can build, in full batches of 50.
    int first_round = 0;
    for (const auto& op : fresh->plan.ops) {
        first_round += provision::IsWrite(op.kind) ? 1 : 0;
    }
    const int per_batch = static_cast<int>(b24::kMaxBatchCalls);
    const int rest = fresh->write_calls - first_round;
    const int minimum = 1 + 1 + (rest + per_batch - 1) / per_batch;
    std::cout << fmt::format("bench provision.rest_calls {} calls\n", after_fresh - before);
    std::cout << fmt::format("bench provision.rest_calls_minimum {} calls\n", minimum);
    std::cout << fmt::format("bench provision.rest_calls_second_apply {} calls\n", after_second - after_fresh);
    std::cout << fmt::format("bench provision.write_calls {} calls\n", fresh->write_calls);
    emu.Stop();
    return 0;
}
