#include "http/lanes.hpp"

#include <fmt/format.h>

#include "common/log.hpp"

namespace kvmhub::http {

Lanes::Lanes(Options options)
    : options_(options), pool_({.name = "host-lanes", .max_threads = 4096, .grace = std::chrono::seconds(1)}) {
    if (options_.running == 0) options_.running = 1;
}

Lanes::~Lanes() {
    drain();
}

void Lanes::run(const std::string& host, std::function<void()> job, std::function<void(Error)> refused) {
    std::vector<Refusal> refusals;
    std::vector<std::function<void()>> starts;
    {
        std::lock_guard lock(mutex_);
        if (draining_) {
            refusals.push_back({std::move(refused), Error{Errc::HostUnavailable, "host", "the server is stopping"}});
        } else {
            Lane& lane = lanes_[host];
            advance(host, lane, refusals, starts);  // first refuse those that waited too long
            if (lane.running < options_.running) {
                ++lane.running;
                ++running_;
                starts.push_back(std::move(job));
            } else if (lane.waiting.size() < options_.waiting) {
                lane.waiting.push_back({std::move(job), std::move(refused), Clock::now()});
            } else {
                refusals.push_back(
                    {std::move(refused),
                     Error{Errc::HostUnavailable, "host",
                           fmt::format("host {} has too many requests in progress ({} running, {} waiting); try "
                                       "again once they ended",
                                       host, lane.running, lane.waiting.size())}});
            }
        }
    }
    refuse(refusals);
    for (auto& s : starts) start(host, std::move(s));
}

void Lanes::advance(const std::string& host, Lane& lane, std::vector<Refusal>& refusals,
                    std::vector<std::function<void()>>& starts) {
    const auto now = Clock::now();
    while (!lane.waiting.empty()) {
        Waiting& next = lane.waiting.front();
        if (draining_ || now - next.since >= options_.max_wait) {
            const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - next.since);
            refusals.push_back({std::move(next.refused),
                                draining_ ? Error{Errc::HostUnavailable, "host", "the server is stopping"}
                                          : Error{Errc::HostTimeout, "host",
                                                  fmt::format("host {} did not answer within {} ms: waited behind "
                                                              "{} requests to it that have not ended",
                                                              host, waited.count(), lane.running)}});
        } else if (lane.running < options_.running) {
            ++lane.running;
            ++running_;
            starts.push_back(std::move(next.job));
        } else {
            break;
        }
        lane.waiting.pop_front();
    }
}

void Lanes::start(const std::string& host, std::function<void()> job) {
    pool_.post([this, host, job = std::move(job)]() mutable {
        job();
        job = nullptr;
        std::vector<Refusal> refusals;
        std::vector<std::function<void()>> starts;
        {
            std::lock_guard lock(mutex_);
            auto it = lanes_.find(host);
            --it->second.running;
            --running_;
            advance(host, it->second, refusals, starts);
            if (it->second.running == 0 && it->second.waiting.empty()) lanes_.erase(it);
            idle_.notify_all();
        }
        refuse(refusals);
        for (auto& s : starts) start(host, std::move(s));
    });
}

void Lanes::refuse(std::vector<Refusal>& refusals) {
    for (auto& r : refusals) {
        log::get("http")->warn("request for a host refused: {}", r.error.desc);
        r.refused(std::move(r.error));
    }
}

void Lanes::drain() {
    std::vector<Refusal> refusals;
    std::vector<std::function<void()>> starts;
    std::unique_lock lock(mutex_);
    draining_ = true;
    for (auto& [host, lane] : lanes_) advance(host, lane, refusals, starts);
    lock.unlock();
    refuse(refusals);
    lock.lock();
    idle_.wait(lock, [this] { return running_ == 0; });
}

Lanes::Counts Lanes::counts(const std::string& host) const {
    std::lock_guard lock(mutex_);
    auto it = lanes_.find(host);
    if (it == lanes_.end()) return {};
    return {it->second.running, it->second.waiting.size()};
}

}  // namespace kvmhub::http
