#include "store/watch_hub.hpp"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <utility>

#include "common/log.hpp"

namespace kvmhub::store {
namespace detail {

struct Watcher {
    std::string prefix;
    WatchCallback callback;
    std::uint64_t first_batch = 0;  // batches numbered below this were published before the watch existed
    bool cancelled = false;
};

struct Batch {
    std::uint64_t number = 0;
    std::vector<Event> events;
};

// Shared with every Watch so a Watch can outlive the hub (and the store) safely.
struct WatchHubState {
    std::mutex mutex;
    std::condition_variable wake;  // a batch arrived, or stop
    std::condition_variable idle;  // the dispatcher left a callback
    std::deque<Batch> queue;
    std::uint64_t next_batch = 0;
    std::vector<std::shared_ptr<Watcher>> watchers;
    const Watcher* calling = nullptr;
    std::thread::id dispatcher_id;
    bool stopping = false;
};

}  // namespace detail

namespace {

using detail::Batch;
using detail::Watcher;

class HubWatch final : public Watch {
public:
    HubWatch(std::shared_ptr<detail::WatchHubState> state, std::shared_ptr<Watcher> watcher)
        : state_(std::move(state)), watcher_(std::move(watcher)) {}

    ~HubWatch() override {
        std::unique_lock lock(state_->mutex);
        watcher_->cancelled = true;
        std::erase(state_->watchers, watcher_);
        // Waiting on the dispatcher from the dispatcher itself would never end; there, the callback
        // in progress is the caller's own frame and `cancelled` already stops the next one.
        if (std::this_thread::get_id() == state_->dispatcher_id) return;
        state_->idle.wait(lock, [&] { return state_->calling != watcher_.get(); });
    }

private:
    std::shared_ptr<detail::WatchHubState> state_;
    std::shared_ptr<Watcher> watcher_;  // the dispatcher may hold it too: the callback outlives this Watch
};

bool has_prefix(std::string_view key, std::string_view prefix) {
    return key.substr(0, prefix.size()) == prefix;
}

}  // namespace

WatchHub::WatchHub() : state_(std::make_shared<detail::WatchHubState>()) {
    dispatcher_ = std::thread([this] { run(); });
    std::lock_guard lock(state_->mutex);
    state_->dispatcher_id = dispatcher_.get_id();
}

WatchHub::~WatchHub() {
    {
        std::lock_guard lock(state_->mutex);
        state_->stopping = true;
    }
    state_->wake.notify_all();
    dispatcher_.join();
}

WatchPtr WatchHub::add(std::string prefix, WatchCallback callback) {
    auto watcher = std::make_shared<Watcher>();
    watcher->prefix = std::move(prefix);
    watcher->callback = std::move(callback);
    std::lock_guard lock(state_->mutex);
    watcher->first_batch = state_->next_batch;
    state_->watchers.push_back(watcher);
    return std::make_unique<HubWatch>(state_, std::move(watcher));
}

void WatchHub::publish(std::vector<Event> events) {
    if (events.empty()) return;
    {
        std::lock_guard lock(state_->mutex);
        state_->queue.push_back(Batch{state_->next_batch++, std::move(events)});
    }
    state_->wake.notify_one();
}

void WatchHub::run() {
    auto& state = *state_;
    std::unique_lock lock(state.mutex);
    while (true) {
        state.wake.wait(lock, [&] { return state.stopping || !state.queue.empty(); });
        if (state.stopping) return;
        Batch batch = std::move(state.queue.front());
        state.queue.pop_front();
        // A copy, because callbacks may add or remove watches while we iterate.
        auto targets = state.watchers;
        for (const auto& watcher : targets) {
            if (watcher->cancelled || batch.number < watcher->first_batch) continue;
            std::vector<Event> mine;
            for (const auto& event : batch.events) {
                if (has_prefix(event.kv.key, watcher->prefix)) mine.push_back(event);
            }
            if (mine.empty()) continue;
            state.calling = watcher.get();
            lock.unlock();
            try {
                watcher->callback(mine);
            } catch (const std::exception& e) {
                log::get("store")->error("watch callback threw; the event batch is lost for it. error={}", e.what());
            } catch (...) {
                log::get("store")->error(
                    "watch callback threw a non-standard exception; the event batch is lost for it");
            }
            lock.lock();
            state.calling = nullptr;
            state.idle.notify_all();
            if (state.stopping) return;
        }
    }
}

}  // namespace kvmhub::store
