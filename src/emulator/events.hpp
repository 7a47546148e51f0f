#pragma once
// Outgoing calls of the portal: CRM item events to bound handlers, robot calls, the install callback
// (CONTRACT §10.3, §10.4, §11.2, §1.2). Bodies are application/x-www-form-urlencoded with bracket keys.
// Delivery is asynchronous (a worker thread), at most once, in order, and never retried: a failed POST is logged
// in the delivery log and the event is gone. Faults: drop a share of deliveries, delay them on the emulator clock.

#include <boost/json.hpp>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "emulator/clock_control.hpp"
#include "emulator/portal.hpp"

namespace dispatch::emulator {

struct Delivery {
    std::int64_t id = 0;
    std::string kind;   // event | robot | install
    std::string event;  // event name, robot code, ONAPPINSTALL
    std::string url;
    std::string body;  // form-urlencoded
    TimeMs due = 0;    // emulator clock
};

// POSTs one body; returns the HTTP status (any) or an error for transport failures.
using Sender = std::function<Result<int>(const std::string& url, const std::string& body)>;

// Builds the deliveries for item events (one per matching binding, for both the generic and the `_{e}` name) and
// robot calls. Issues per-event access tokens and records robot runs, so the portal mutex must be held.
std::vector<Delivery> BuildDeliveries(Portal& portal,
                                      const std::vector<DomainEvent>& events,
                                      const std::vector<RobotCall>& robots);
// The local app's install callback (ONAPPINSTALL with a fresh token pair); empty url when none is configured.
Delivery BuildInstallCallback(Portal& portal, std::int64_t user_id);

class EventDispatcher {
public:
    EventDispatcher(ClockControl& clock, Sender sender, std::uint64_t seed = 1);
    ~EventDispatcher();
    EventDispatcher(const EventDispatcher&) = delete;
    EventDispatcher& operator=(const EventDispatcher&) = delete;

    // Starts the worker thread. Without it, DeliverDue() delivers on the caller's thread (in-process tests).
    void Start();
    void Stop();

    void Enqueue(std::vector<Delivery> deliveries);
    // Delivers everything due now; returns how many were attempted.
    std::size_t DeliverDue();

    void SetDropShare(double share);  // 0..1: that share of deliveries is dropped at enqueue time
    void SetDelay(TimeMs delay);      // deliveries become due `delay` after they were raised (emulator clock)
    void SetSender(Sender sender);

    std::size_t Pending() const;
    boost::json::array Log() const;  // oldest first: {id, kind, event, url, body, outcome, status, at}
    boost::json::object Faults() const;

private:
    struct Record {
        Delivery delivery;
        std::string outcome;  // delivered | failed | dropped
        int status = 0;
        TimeMs at = 0;
    };
    void Run();
    void AddRecord(Record r);

    ClockControl& clock_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    Sender sender_;
    std::deque<Delivery> queue_;
    std::deque<Record> log_;
    std::mt19937_64 rng_;
    double drop_share_ = 0;
    TimeMs delay_ = 0;
    std::int64_t next_id_ = 0;
    bool stop_ = false;
    std::thread worker_;
    std::mutex send_mu_;  // one delivery at a time keeps the order of arrival
};

}  // namespace dispatch::emulator
