#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "backend_fixture.hpp"
#include "store/errc.hpp"

namespace dispatch::store {
namespace {

using testing::BackendTest;
using ::testing::ElementsAre;
using testing::Event;

Portal Acme(TimeMs at) {
    return Portal{.member_id = "m-acme",
                  .domain = "acme.bitrix24.ru",
                  .client_endpoint = "https://acme.bitrix24.ru/rest/",
                  .server_endpoint = "https://oauth.bitrix.info/rest/",
                  .application_token = "app-token-acme",
                  .auth_mode = AuthMode::kOAuth,
                  .status = PortalStatus::kActive,
                  .installed_at = at,
                  .updated_at = at};
}

std::vector<std::string> Keys(const std::vector<ClaimedEvent>& claimed) {
    std::vector<std::string> keys;
    for (const auto& c : claimed) {
        keys.push_back(c.event.dedup_key);
    }
    return keys;
}

// ---- portals ------------------------------------------------------------------------------------------------------

using PortalRepoTest = BackendTest;

TEST_P(PortalRepoTest, UpsertedPortalIsFoundByMemberIdAndByDomain) {
    ASSERT_THAT(store_->Portals().Upsert(Acme(kT0)), IsOk());

    auto by_member = store_->Portals().FindByMemberId("m-acme");
    auto by_domain = store_->Portals().FindByDomain("acme.bitrix24.ru");

    ASSERT_THAT(by_member, IsOk());
    EXPECT_EQ(*by_member, Acme(kT0));
    ASSERT_THAT(by_domain, IsOk());
    EXPECT_EQ(*by_domain, Acme(kT0));
}

TEST_P(PortalRepoTest, UpsertUpdatesFieldsButKeepsInstalledAt) {
    ASSERT_THAT(store_->Portals().Upsert(Acme(kT0)), IsOk());
    Portal renamed = Acme(kT0 + kDayMs);
    renamed.domain = "acme-it.bitrix24.ru";
    renamed.application_token = "rotated";
    renamed.status = PortalStatus::kSuspended;

    ASSERT_THAT(store_->Portals().Upsert(renamed), IsOk());

    auto found = store_->Portals().FindByMemberId("m-acme");
    ASSERT_THAT(found, IsOk());
    EXPECT_EQ(found->domain, "acme-it.bitrix24.ru");
    EXPECT_EQ(found->application_token, "rotated");
    EXPECT_EQ(found->status, PortalStatus::kSuspended);
    EXPECT_EQ(found->installed_at, kT0);  // the first install stays the install date
    EXPECT_EQ(found->updated_at, kT0 + kDayMs);
    EXPECT_THAT(store_->Portals().FindByDomain("acme.bitrix24.ru"), HasErrc(Errc::kNotFound));
}

TEST_P(PortalRepoTest, UnknownPortalIsNotFound) {
    EXPECT_THAT(store_->Portals().FindByMemberId("nobody"), HasErrc(Errc::kNotFound));
    EXPECT_THAT(store_->Portals().FindByDomain("nobody.bitrix24.ru"), HasErrc(Errc::kNotFound));
}

TEST_P(PortalRepoTest, DomainHeldByAnotherPortalIsAConstraintViolation) {
    ASSERT_THAT(store_->Portals().Upsert(Acme(kT0)), IsOk());
    Portal other = Acme(kT0);
    other.member_id = "m-other";

    EXPECT_THAT(store_->Portals().Upsert(other), HasErrc(Errc::kConstraint));
}

TEST_P(PortalRepoTest, ListIsOrderedByDomain) {
    Portal zeta = Acme(kT0);
    zeta.member_id = "m-zeta";
    zeta.domain = "zeta.bitrix24.ru";
    zeta.auth_mode = AuthMode::kWebhook;
    ASSERT_THAT(store_->Portals().Upsert(zeta), IsOk());
    ASSERT_THAT(store_->Portals().Upsert(Acme(kT0)), IsOk());

    auto all = store_->Portals().List();

    ASSERT_THAT(all, IsOk());
    ASSERT_EQ(all->size(), 2u);
    EXPECT_EQ((*all)[0].domain, "acme.bitrix24.ru");
    EXPECT_EQ((*all)[1].domain, "zeta.bitrix24.ru");
    EXPECT_EQ((*all)[1].auth_mode, AuthMode::kWebhook);
}

// ---- tokens -------------------------------------------------------------------------------------------------------

class TokenRepoTest : public BackendTest {
protected:
    void SetUp() override {
        BackendTest::SetUp();
        if (IsSkipped()) {
            return;
        }
        ASSERT_THAT(store_->Portals().Upsert(Acme(kT0)), IsOk());
    }
    static Token Tok(std::string access, std::string refresh, TimeMs at) {
        return Token{.member_id = "m-acme",
                     .access_token = std::move(access),
                     .refresh_token = std::move(refresh),
                     .expires_at = at + kHourMs,
                     .scope = "crm,bizproc",
                     .updated_at = at,
                     .version = 0};
    }
};

TEST_P(TokenRepoTest, FirstTokenIsStoredAsVersionOne) {
    auto stored = store_->Tokens().CompareAndSwap(Tok("a1", "r1", kT0), 0);

    ASSERT_THAT(stored, IsOk());
    EXPECT_EQ(stored->version, 1);
    auto read = store_->Tokens().Get("m-acme");
    ASSERT_THAT(read, IsOk());
    EXPECT_EQ(*read, *stored);
    EXPECT_EQ(read->refresh_token, "r1");
}

TEST_P(TokenRepoTest, SwapFromTheCurrentVersionWinsAndAStaleOneConflicts) {
    ASSERT_THAT(store_->Tokens().CompareAndSwap(Tok("a1", "r1", kT0), 0), IsOk());

    // Two refreshers both read version 1; the first to swap wins, the second must re-read.
    auto first = store_->Tokens().CompareAndSwap(Tok("a2", "r2", kT0 + 1), 1);
    auto second = store_->Tokens().CompareAndSwap(Tok("a3", "r3", kT0 + 2), 1);

    ASSERT_THAT(first, IsOk());
    EXPECT_EQ(first->version, 2);
    EXPECT_THAT(second, HasErrc(Errc::kConflict));
    auto read = store_->Tokens().Get("m-acme");
    ASSERT_THAT(read, IsOk());
    EXPECT_EQ(read->refresh_token, "r2");
    EXPECT_EQ(read->version, 2);
}

TEST_P(TokenRepoTest, SecondFirstInstallConflicts) {
    ASSERT_THAT(store_->Tokens().CompareAndSwap(Tok("a1", "r1", kT0), 0), IsOk());

    EXPECT_THAT(store_->Tokens().CompareAndSwap(Tok("a9", "r9", kT0), 0), HasErrc(Errc::kConflict));
}

TEST_P(TokenRepoTest, TokenOfUnknownPortalIsRefused) {
    Token stray = Tok("a", "r", kT0);
    stray.member_id = "nobody";

    EXPECT_THAT(store_->Tokens().CompareAndSwap(stray, 0), HasErrc(Errc::kConstraint));
    EXPECT_THAT(store_->Tokens().Get("nobody"), HasErrc(Errc::kNotFound));
}

// ---- inbox --------------------------------------------------------------------------------------------------------

using InboxTest = BackendTest;
constexpr TimeMs kLease = 30 * kSecondMs;

TEST_P(InboxTest, AppendStoresAndTheSameDedupKeyIsADuplicate) {
    auto first = store_->Inbox().AppendAndWait(Event("e1", 42, kT0));
    auto again = store_->Inbox().AppendAndWait(Event("e1", 42, kT0 + 5));

    ASSERT_THAT(first, IsOk());
    EXPECT_EQ(*first, AppendOutcome::kStored);
    ASSERT_THAT(again, IsOk());
    EXPECT_EQ(*again, AppendOutcome::kDuplicate);
    auto depth = store_->Inbox().Depth();
    ASSERT_THAT(depth, IsOk());
    EXPECT_EQ(depth->pending, 1);
}

TEST_P(InboxTest, EventWithoutDedupKeyOrWithBadJsonIsRefused) {
    InboxEvent no_key = Event("", 42, kT0);
    InboxEvent bad_json = Event("e1", 42, kT0);
    bad_json.payload = "{not json";

    EXPECT_THAT(store_->Inbox().AppendAndWait(no_key), HasErrc(Errc::kInvalidArgument));
    EXPECT_THAT(store_->Inbox().AppendAndWait(bad_json), HasErrc(Errc::kInvalidArgument));
}

TEST_P(InboxTest, ClaimedEventCarriesEverythingAppended) {
    InboxEvent robot = Event("r1", 7, kT0);
    robot.kind = InboxKind::kRobot;
    robot.event_name = "dispatch_route";
    ASSERT_THAT(store_->Inbox().AppendAndWait(robot), IsOk());

    auto claimed = store_->Inbox().Claim(10, kT0, kLease);

    ASSERT_THAT(claimed, IsOk());
    ASSERT_EQ(claimed->size(), 1u);
    const ClaimedEvent& c = claimed->front();
    EXPECT_EQ(c.event.member_id, robot.member_id);
    EXPECT_EQ(c.event.received_at, robot.received_at);
    EXPECT_EQ(c.event.kind, InboxKind::kRobot);
    EXPECT_EQ(c.event.event_name, "dispatch_route");
    EXPECT_EQ(c.event.entity_type_id, 1032);
    EXPECT_EQ(c.event.item_id, 7);
    EXPECT_EQ(c.event.payload, robot.payload);
    EXPECT_EQ(c.attempt, 1);
    EXPECT_EQ(c.claimed_until, kT0 + kLease);
}

TEST_P(InboxTest, ClaimTakesOneRowPerTicketInArrivalOrder) {
    ASSERT_THAT(store_->Inbox().AppendAndWait(Event("a1", 1, kT0)), IsOk());
    ASSERT_THAT(store_->Inbox().AppendAndWait(Event("b1", 2, kT0)), IsOk());
    ASSERT_THAT(store_->Inbox().AppendAndWait(Event("a2", 1, kT0)), IsOk());
    ASSERT_THAT(store_->Inbox().AppendAndWait(Event("a3", 1, kT0)), IsOk());
    // The same item id on another portal is another ticket.
    ASSERT_THAT(store_->Inbox().AppendAndWait(Event("o1", 1, kT0, "m-other")), IsOk());

    auto first = store_->Inbox().Claim(10, kT0, kLease);
    auto while_held = store_->Inbox().Claim(10, kT0, kLease);

    ASSERT_THAT(first, IsOk());
    EXPECT_THAT(Keys(*first), ElementsAre("a1", "b1", "o1"));
    ASSERT_THAT(while_held, IsOk());
    EXPECT_TRUE(while_held->empty()) << "a2 must wait until a1 is finished";

    ASSERT_THAT(store_->Inbox().Complete(first->front().id, first->front().attempt, kT0 + 1), IsOk());
    auto next = store_->Inbox().Claim(10, kT0 + 1, kLease);
    ASSERT_THAT(next, IsOk());
    EXPECT_THAT(Keys(*next), ElementsAre("a2"));
}

TEST_P(InboxTest, ClaimRespectsTheBatchSize) {
    for (int i = 0; i < 5; ++i) {
        ASSERT_THAT(store_->Inbox().AppendAndWait(Event("e" + std::to_string(i), 100 + i, kT0)), IsOk());
    }

    auto claimed = store_->Inbox().Claim(3, kT0, kLease);

    ASSERT_THAT(claimed, IsOk());
    EXPECT_THAT(Keys(*claimed), ElementsAre("e0", "e1", "e2"));
}

TEST_P(InboxTest, ExpiredLeaseIsReclaimedAndFencesTheOldClaim) {
    ASSERT_THAT(store_->Inbox().AppendAndWait(Event("e1", 42, kT0)), IsOk());
    auto first = store_->Inbox().Claim(1, kT0, kLease);
    ASSERT_THAT(first, IsOk());
    ASSERT_EQ(first->size(), 1u);

    auto before_expiry = store_->Inbox().Claim(1, kT0 + kLease - 1, kLease);
    auto after_expiry = store_->Inbox().Claim(1, kT0 + kLease, kLease);

    ASSERT_THAT(before_expiry, IsOk());
    EXPECT_TRUE(before_expiry->empty());
    ASSERT_THAT(after_expiry, IsOk());
    ASSERT_EQ(after_expiry->size(), 1u);
    EXPECT_EQ(after_expiry->front().attempt, 2);
    // The worker that lost its lease cannot finish the row; the new holder can.
    EXPECT_THAT(store_->Inbox().Complete(first->front().id, 1, kT0 + kLease), HasErrc(Errc::kLeaseLost));
    EXPECT_THAT(store_->Inbox().Complete(first->front().id, 2, kT0 + kLease), IsOk());
    EXPECT_THAT(store_->Inbox().Complete(first->front().id, 2, kT0 + kLease), HasErrc(Errc::kLeaseLost));
}

TEST_P(InboxTest, FailureBacksOffThenRetriesThenDeadLetters) {
    const RetryPolicy policy{.max_attempts = 3, .first_backoff = kSecondMs, .max_backoff = kMinuteMs};
    ASSERT_THAT(store_->Inbox().AppendAndWait(Event("e1", 42, kT0)), IsOk());
    ASSERT_THAT(store_->Inbox().AppendAndWait(Event("e2", 42, kT0)), IsOk());
    TimeMs now = kT0;

    auto c1 = store_->Inbox().Claim(1, now, kLease);
    ASSERT_THAT(c1, IsOk());
    ASSERT_EQ(c1->size(), 1u);
    auto f1 = store_->Inbox().Fail(c1->front().id, 1, "b24 503", now, policy);
    ASSERT_THAT(f1, IsOk());
    EXPECT_FALSE(f1->dead);
    EXPECT_EQ(f1->retry_at, now + kSecondMs);
    auto too_early = store_->Inbox().Claim(1, now + kSecondMs - 1, kLease);
    ASSERT_THAT(too_early, IsOk());
    EXPECT_TRUE(too_early->empty()) << "backing off, and e2 waits behind e1";

    now += kSecondMs;
    auto c2 = store_->Inbox().Claim(1, now, kLease);
    ASSERT_THAT(c2, IsOk());
    ASSERT_THAT(Keys(*c2), ElementsAre("e1"));
    EXPECT_EQ(c2->front().attempt, 2);
    auto f2 = store_->Inbox().Fail(c2->front().id, 2, "b24 503", now, policy);
    ASSERT_THAT(f2, IsOk());
    EXPECT_EQ(f2->retry_at, now + 2 * kSecondMs);

    now += 2 * kSecondMs;
    auto c3 = store_->Inbox().Claim(1, now, kLease);
    ASSERT_THAT(c3, IsOk());
    ASSERT_THAT(Keys(*c3), ElementsAre("e1"));
    auto f3 = store_->Inbox().Fail(c3->front().id, 3, "b24 503", now, policy);
    ASSERT_THAT(f3, IsOk());
    EXPECT_TRUE(f3->dead);

    auto depth = store_->Inbox().Depth();
    ASSERT_THAT(depth, IsOk());
    EXPECT_EQ(depth->dead, 1);
    EXPECT_EQ(depth->pending, 1);
    // A dead letter no longer holds its ticket back.
    auto after = store_->Inbox().Claim(5, now + kDayMs, kLease);
    ASSERT_THAT(after, IsOk());
    EXPECT_THAT(Keys(*after), ElementsAre("e2"));
}

// Claims the oldest ready row at `now`, which must be `key`, and fails it; the outcome.
FailOutcome ClaimAndFail(Store& store, const std::string& key, TimeMs now, const RetryPolicy& policy) {
    auto claimed = store.Inbox().Claim(1, now, kLease);
    EXPECT_THAT(claimed, IsOk());
    EXPECT_THAT(claimed ? Keys(*claimed) : std::vector<std::string>{}, ElementsAre(key));
    if (!claimed || claimed->size() != 1) {
        return {};
    }
    const auto& row = claimed->front();
    auto failed = store.Inbox().Fail(row.id, row.attempt, "b24 503 at try " + std::to_string(row.attempt), now, policy);
    EXPECT_THAT(failed, IsOk());
    return failed ? *failed : FailOutcome{};
}

TEST_P(InboxTest, ADeadRowIsListedWithItsErrorAndARevivedOneGetsAFullRoundInItsTicketsOrder) {
    const RetryPolicy policy{.max_attempts = 2, .first_backoff = kSecondMs, .max_backoff = kMinuteMs};
    ASSERT_THAT(store_->Inbox().AppendAndWait(Event("e1", 42, kT0)), IsOk());
    ASSERT_THAT(store_->Inbox().AppendAndWait(Event("other", 42, kT0, "m-other")), IsOk());
    TimeMs now = kT0;
    EXPECT_FALSE(ClaimAndFail(*store_, "e1", now, policy).dead);
    now += kSecondMs;
    ASSERT_TRUE(ClaimAndFail(*store_, "e1", now, policy).dead);
    ASSERT_THAT(store_->Inbox().AppendAndWait(Event("e2", 42, now)), IsOk());  // a later event of the same ticket

    auto dead = store_->Inbox().ListDead("m-acme", 10);
    ASSERT_THAT(dead, IsOk());
    ASSERT_EQ(dead->size(), 1u);
    EXPECT_EQ(dead->front().event.dedup_key, "e1");
    EXPECT_EQ(dead->front().event.item_id, 42);
    EXPECT_EQ(dead->front().tries, 2);
    EXPECT_EQ(dead->front().last_error, "b24 503 at try 2");
    EXPECT_EQ(dead->front().dead_at, now);
    const std::int64_t e1 = dead->front().id;
    auto none = store_->Inbox().ListDead("m-other", 10);
    ASSERT_THAT(none, IsOk());
    EXPECT_TRUE(none->empty());

    now += kMinuteMs;
    auto revived = store_->Inbox().Revive("m-acme", {}, now);
    ASSERT_THAT(revived, IsOk());
    EXPECT_EQ(*revived, 1);
    auto listed = store_->Inbox().ListDead("m-acme", 10);
    ASSERT_THAT(listed, IsOk());
    EXPECT_TRUE(listed->empty());

    // A full round again (the first failure backs off, the second is dead), and e2 waits behind e1 throughout.
    auto first = store_->Inbox().Claim(5, now, kLease);
    ASSERT_THAT(first, IsOk());
    ASSERT_THAT(Keys(*first), ElementsAre("e1", "other"));
    EXPECT_EQ(first->front().attempt, 3) << "attempt numbers go on counting";
    EXPECT_THAT(store_->Inbox().Complete(e1, 1, now), HasErrc(Errc::kLeaseLost)) << "a claim from before the revive";
    auto again = store_->Inbox().Fail(e1, 3, "still down", now, policy);
    ASSERT_THAT(again, IsOk());
    EXPECT_FALSE(again->dead);
    EXPECT_EQ(again->retry_at, now + kSecondMs) << "the backoff starts over";
    now += kSecondMs;
    EXPECT_TRUE(ClaimAndFail(*store_, "e1", now, policy).dead);

    // Only dead rows of the portal come back: not a pending one, not an unknown id.
    auto pending = store_->Inbox().Claim(5, now, kLease);
    ASSERT_THAT(pending, IsOk());
    ASSERT_THAT(Keys(*pending), ElementsAre("e2"));
    auto picked = store_->Inbox().Revive("m-acme", {pending->front().id, e1 + 1000}, now);
    ASSERT_THAT(picked, IsOk());
    EXPECT_EQ(*picked, 0);
    auto by_id = store_->Inbox().Revive("m-acme", {e1}, now);
    ASSERT_THAT(by_id, IsOk());
    EXPECT_EQ(*by_id, 1);
}

TEST_P(InboxTest, DepthCountsPendingClaimedAndDead) {
    for (int i = 0; i < 3; ++i) {
        ASSERT_THAT(store_->Inbox().AppendAndWait(Event("e" + std::to_string(i), i, kT0)), IsOk());
    }
    auto claimed = store_->Inbox().Claim(2, kT0, kLease);
    ASSERT_THAT(claimed, IsOk());
    ASSERT_THAT(store_->Inbox().Complete((*claimed)[0].id, 1, kT0), IsOk());

    auto depth = store_->Inbox().Depth();

    ASSERT_THAT(depth, IsOk());
    EXPECT_EQ(depth->pending, 1);
    EXPECT_EQ(depth->claimed, 1);
    EXPECT_EQ(depth->dead, 0);
}

TEST_P(InboxTest, ConcurrentAppendsAreGroupCommitted) {
    constexpr int kThreads = 32;
    // Hold the write lock so the store's first append transaction waits: everything appended meanwhile queues up
    // and is gathered into the next transaction. Deterministic, unlike hoping threads collide.
    auto lock = HoldWriteLock();
    ASSERT_THAT(lock, IsOk());
    std::mutex mu;
    std::vector<Result<AppendOutcome>> outcomes;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            store_->Inbox().Append(Event("g" + std::to_string(t), t, kT0), [&](Result<AppendOutcome> outcome) {
                std::lock_guard guard(mu);
                outcomes.push_back(std::move(outcome));
            });
        });
    }
    for (auto& th : threads) {
        th.join();  // Append only queues, so every request is in the queue now
    }

    ASSERT_THAT((*lock)->Release(), IsOk());
    ASSERT_TRUE(dispatch::testing::WaitFor(
        [&] {
            std::lock_guard guard(mu);
            return outcomes.size() == kThreads;
        },
        std::chrono::seconds(20),
        "every append completion"));

    for (const auto& o : outcomes) {
        ASSERT_THAT(o, IsOk());
        EXPECT_EQ(*o, AppendOutcome::kStored);
    }
    auto depth = store_->Inbox().Depth();
    ASSERT_THAT(depth, IsOk());
    EXPECT_EQ(depth->pending, kThreads);
    const GroupCommitStats stats = store_->Inbox().Stats();
    EXPECT_EQ(stats.appends, static_cast<std::uint64_t>(kThreads));
    EXPECT_LT(stats.transactions, static_cast<std::uint64_t>(kThreads));
    EXPECT_GT(stats.largest_batch, 1u);
}

TEST_P(InboxTest, ManyThreadsAppendingAndWaitingAllSucceed) {
    constexpr int kThreads = 16;
    constexpr int kPerThread = 20;
    std::atomic<int> stored{0};
    std::atomic<int> duplicates{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kPerThread; ++i) {
                // Every key twice across neighbouring threads: Bitrix24 retries and our dedup must agree.
                const int key = (t / 2) * kPerThread + i;
                auto outcome = store_->Inbox().AppendAndWait(Event("k" + std::to_string(key), key, kT0));
                if (outcome && *outcome == AppendOutcome::kStored) {
                    ++stored;
                } else if (outcome && *outcome == AppendOutcome::kDuplicate) {
                    ++duplicates;
                }
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }

    EXPECT_EQ(stored.load(), kThreads * kPerThread / 2);
    EXPECT_EQ(duplicates.load(), kThreads * kPerThread / 2);
    auto depth = store_->Inbox().Depth();
    ASSERT_THAT(depth, IsOk());
    EXPECT_EQ(depth->pending, kThreads * kPerThread / 2);
}

TEST_P(InboxTest, AppendAfterCloseFailsWithClosed) {
    store_->Close();

    EXPECT_THAT(store_->Inbox().AppendAndWait(Event("late", 1, kT0)), HasErrc(Errc::kClosed));
}

TEST_P(InboxTest, RowsSurviveReopening) {
    ASSERT_THAT(store_->Inbox().AppendAndWait(Event("e1", 42, kT0)), IsOk());

    ASSERT_TRUE(Reopen());

    auto claimed = store_->Inbox().Claim(10, kT0, kLease);
    ASSERT_THAT(claimed, IsOk());
    EXPECT_THAT(Keys(*claimed), ElementsAre("e1"));
}

// Two store instances over one database (two dispatchd processes against PostgreSQL, or two over one SQLite file)
// claiming side by side: every ticket's rows are still finished one at a time and in arrival order.
TEST_P(InboxTest, TwoInstancesClaimingTogetherKeepTicketOrder) {
    constexpr int kTickets = 4;
    constexpr int kPerTicket = 10;
    for (int i = 0; i < kPerTicket; ++i) {
        for (int t = 0; t < kTickets; ++t) {
            ASSERT_THAT(store_->Inbox().AppendAndWait(Event(fmt::format("t{}-{:02}", t, i), t, kT0)), IsOk());
        }
    }
    auto other = Open();
    ASSERT_THAT(other, IsOk());
    std::mutex mu;
    std::vector<std::vector<std::string>> finished(kTickets);
    std::vector<int> in_flight(kTickets, 0);
    std::atomic<int> violations{0};
    std::atomic<int> done{0};
    auto worker = [&](Store& store) {
        for (int round = 0; round < 2000 && done.load() < kTickets * kPerTicket; ++round) {
            auto claimed = store.Inbox().Claim(3, kT0, kHourMs);
            if (!claimed) {
                ++violations;  // a claim must not fail here
                return;
            }
            for (const auto& c : *claimed) {
                const auto t = static_cast<std::size_t>(c.event.item_id);
                {
                    std::lock_guard guard(mu);
                    if (in_flight[t]++ != 0) {
                        ++violations;  // two rows of one ticket held at once
                    }
                    finished[t].push_back(c.event.dedup_key);
                    --in_flight[t];  // before Complete: the next row can only be claimed after it commits
                }
                if (!store.Inbox().Complete(c.id, c.attempt, kT0)) {
                    ++violations;
                }
                ++done;
            }
        }
    };

    std::thread a(worker, std::ref(*store_));
    std::thread b(worker, std::ref(**other));
    a.join();
    b.join();

    EXPECT_EQ(violations.load(), 0);
    EXPECT_EQ(done.load(), kTickets * kPerTicket);
    for (int t = 0; t < kTickets; ++t) {
        std::vector<std::string> expected;
        for (int i = 0; i < kPerTicket; ++i) {
            expected.push_back(fmt::format("t{}-{:02}", t, i));
        }
        EXPECT_EQ(finished[static_cast<std::size_t>(t)], expected) << "ticket " << t;
    }
}

// ---- migrations, per backend --------------------------------------------------------------------------------------

using MigrationBackendTest = BackendTest;

TEST_P(MigrationBackendTest, ReopeningAppliesNothingTwice) {
    clock_.Advance(kDayMs);

    ASSERT_TRUE(Reopen());  // would fail on "table already exists" if it re-ran a migration

    ASSERT_THAT(store_->Portals().Upsert(Acme(kT0)), IsOk());
}

TEST_P(MigrationBackendTest, DatabaseNewerThanTheCodeIsRefused) {
    store_.reset();
    ASSERT_THAT(ExecRaw("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)"),
                IsOk());

    EXPECT_THAT(Open(), HasErrc(Errc::kMigration));
}

TEST_P(MigrationBackendTest, RenamedMigrationIsRefused) {
    store_.reset();
    ASSERT_THAT(ExecRaw("UPDATE schema_migrations SET name = 'something_else' WHERE version = 1"), IsOk());

    EXPECT_THAT(Open(), HasErrc(Errc::kMigration));
}

TEST_P(MigrationBackendTest, LedgerIsAppendOnly) {
    ASSERT_THAT(ExecRaw("INSERT INTO ledger (member_id, entity_type_id, item_id, seq, at, kind, recorded_at) "
                        "VALUES ('m-acme', 1032, 42, 1, 0, 'created', 0)"),
                IsOk());

    EXPECT_FALSE(ExecRaw("UPDATE ledger SET kind = 'edited'"));
    EXPECT_FALSE(ExecRaw("DELETE FROM ledger"));
}

INSTANTIATE_TEST_SUITE_P(Backends, PortalRepoTest, ::testing::Values("sqlite", "postgres"), testing::BackendName);
INSTANTIATE_TEST_SUITE_P(Backends, TokenRepoTest, ::testing::Values("sqlite", "postgres"), testing::BackendName);
INSTANTIATE_TEST_SUITE_P(Backends, InboxTest, ::testing::Values("sqlite", "postgres"), testing::BackendName);
INSTANTIATE_TEST_SUITE_P(Backends, MigrationBackendTest, ::testing::Values("sqlite", "postgres"), testing::BackendName);

}  // namespace
}  // namespace dispatch::store
