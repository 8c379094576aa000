#include "auth/throttle.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

namespace kvmhub::auth {

namespace {

// Pruning is O(n); doing it every so many failures keeps the amortised cost per call small.
constexpr std::size_t kPruneEvery = 256;

std::size_t at_least_one(int n) {
    return n < 1 ? 1 : static_cast<std::size_t>(n);
}

}  // namespace

LoginThrottle::LoginThrottle(const Clock& clock, int max_per_user, int max_per_ip, std::chrono::seconds window,
                             std::chrono::seconds lockout, std::size_t max_entries)
    : clock_(clock),
      max_per_user_(at_least_one(max_per_user)),
      max_per_ip_(at_least_one(max_per_ip)),
      window_(window),
      lockout_(lockout),
      max_entries_(std::max<std::size_t>(max_entries, 1)) {}

int LoginThrottle::remaining_seconds(const Table& table, std::string_view key, TimePoint now) const {
    auto it = table.find(key);
    if (it == table.end() || it->second.locked_until <= now) return 0;
    const auto left = it->second.locked_until - now;
    return static_cast<int>(std::chrono::ceil<std::chrono::seconds>(left).count());
}

Status LoginThrottle::check(std::string_view user, std::string_view ip) const {
    std::lock_guard lock(mutex_);
    const auto now = clock_.now();
    if (int left = remaining_seconds(users_, user, now); left > 0) {
        return fail(Errc::Throttled, "username",
                    fmt::format("too many failed logins for this user name; retry in {} s", left));
    }
    if (int left = remaining_seconds(ips_, ip, now); left > 0) {
        return fail(Errc::Throttled, "client",
                    fmt::format("too many failed logins from this address; retry in {} s", left));
    }
    return {};
}

int LoginThrottle::retry_after_seconds(std::string_view user, std::string_view ip) const {
    std::lock_guard lock(mutex_);
    const auto now = clock_.now();
    return std::max(remaining_seconds(users_, user, now), remaining_seconds(ips_, ip, now));
}

void LoginThrottle::record_failure(std::string_view user, std::string_view ip) {
    std::lock_guard lock(mutex_);
    const auto now = clock_.now();
    if (++calls_since_prune_ >= kPruneEvery) {
        calls_since_prune_ = 0;
        prune(users_, now);
        prune(ips_, now);
    }
    add_failure(users_, user, max_per_user_, now);
    add_failure(ips_, ip, max_per_ip_, now);
}

void LoginThrottle::record_success(std::string_view user, std::string_view) {
    std::lock_guard lock(mutex_);
    if (auto it = users_.find(user); it != users_.end()) users_.erase(it);
}

std::size_t LoginThrottle::tracked_entries() const {
    std::lock_guard lock(mutex_);
    return users_.size() + ips_.size();
}

void LoginThrottle::add_failure(Table& table, std::string_view key, std::size_t max, TimePoint now) {
    auto it = table.find(key);
    if (it == table.end()) {
        if (table.size() >= max_entries_) prune(table, now);
        it = table.emplace(std::string(key), Entry{}).first;
    }
    auto& failures = it->second.failures;
    while (!failures.empty() && failures.front() <= now - window_) failures.pop_front();
    failures.push_back(now);
    // Only "are there max within the window" matters, so older timestamps beyond max can go.
    while (failures.size() > max) failures.pop_front();
    if (failures.size() >= max) it->second.locked_until = now + lockout_;
}

void LoginThrottle::prune(Table& table, TimePoint now) {
    std::erase_if(table, [&](const auto& item) {
        const Entry& e = item.second;
        return e.locked_until <= now && (e.failures.empty() || e.failures.back() <= now - window_);
    });
    if (table.size() < max_entries_) return;

    // Still full of live entries: drop the tenth with the oldest latest failure, batch-wise so
    // the next inserts do not each pay for a scan.
    std::vector<TimePoint> latest;
    latest.reserve(table.size());
    for (const auto& [key, e] : table) latest.push_back(e.failures.empty() ? TimePoint{} : e.failures.back());
    const std::size_t drop = std::max<std::size_t>(table.size() / 10, table.size() - max_entries_ + 1);
    std::nth_element(latest.begin(), latest.begin() + static_cast<std::ptrdiff_t>(drop - 1), latest.end());
    const TimePoint cutoff = latest[drop - 1];
    std::size_t dropped = 0;
    std::erase_if(table, [&](const auto& item) {
        const Entry& e = item.second;
        const TimePoint t = e.failures.empty() ? TimePoint{} : e.failures.back();
        if (dropped < drop && t <= cutoff) {
            ++dropped;
            return true;
        }
        return false;
    });
}

}  // namespace kvmhub::auth
