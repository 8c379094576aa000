// In-process fan-out of committed changes to watchers, on one dispatcher thread, so that
// callbacks never run on a mutating thread or under a store lock and always see revisions in order.
// Backend-independent: any Store that knows its own commits can publish them here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "store/store.hpp"

namespace kvmhub::store {

namespace detail {
struct WatchHubState;
}

class WatchHub {
public:
    WatchHub();
    // Stops and joins the dispatcher; batches not yet delivered are dropped. Watches still alive
    // stay safe to destroy afterwards.
    ~WatchHub();
    WatchHub(const WatchHub&) = delete;
    WatchHub& operator=(const WatchHub&) = delete;

    // The watch sees batches published after this returns. Destroying the Watch from another thread
    // waits for a callback in progress to finish; destroying it from inside any callback (including
    // its own) does not wait, and the callback is not called again either way.
    WatchPtr add(std::string prefix, WatchCallback callback);

    // Queues the events of one committed revision. Callers publish in revision order.
    void publish(std::vector<Event> events);

private:
    void run();

    std::shared_ptr<detail::WatchHubState> state_;
    std::thread dispatcher_;
};

}  // namespace kvmhub::store
