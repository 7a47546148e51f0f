#pragma once
// Internal to store/: a fixed set of connections lent one borrower at a time (SQLite readers, PostgreSQL
// connections). Works with any connection type that has InTransaction() and Exec("ROLLBACK").

#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

namespace dispatch::store {

template <class Connection>
class Pool {
public:
    void Add(std::unique_ptr<Connection> connection) { idle_.push_back(std::move(connection)); }

    // Runs fn(Connection&) on an idle connection, waiting for one if all are lent.
    template <class F>
    auto With(F&& fn) {
        std::unique_ptr<Connection> connection;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [this] { return !idle_.empty(); });
            connection = std::move(idle_.back());
            idle_.pop_back();
        }
        struct GiveBack {
            Pool* pool;
            std::unique_ptr<Connection>* connection;
            ~GiveBack() {
                if ((*connection)->InTransaction()) {
                    (void)(*connection)->Exec("ROLLBACK");  // never hand on a connection mid-transaction
                }
                std::lock_guard lock(pool->mu_);
                pool->idle_.push_back(std::move(*connection));
                pool->cv_.notify_one();
            }
        } give_back{this, &connection};
        return fn(*connection);
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace dispatch::store
