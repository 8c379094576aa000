#include "vm/tasks.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

#include <fmt/format.h>

#include "common/ids.hpp"
#include "common/log.hpp"

namespace kvmhub::vm {
namespace {

constexpr int kMaxSwapAttempts = 50;
constexpr std::uint64_t kPruneEvery = 64;  // creates between two prunes

std::string task_key(std::string_view id) {
    return fmt::format("{}{}", kTasksPrefix, id);
}

std::string iso_time(std::int64_t ms) {
    const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return fmt::format("{}.{:03d}Z", buf, static_cast<int>(ms % 1000));
}

// Seconds since the epoch of an iso_time() text; 0 when it is not one (such a task counts as old).
std::int64_t parse_iso_seconds(const std::string& text) {
    std::tm tm{};
    const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == nullptr) return 0;
    return static_cast<std::int64_t>(timegm(&tm));
}

std::string dump(const nlohmann::json& task) {
    return task.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Status check_id(const std::string& id) {
    if (!is_uuid(id)) return fail(Errc::NotFound, "id", fmt::format("no task '{}': task ids are UUIDs", id));
    return {};
}

tl::unexpected<Error> no_task(const std::string& id) {
    return fail(Errc::NotFound, "id", fmt::format("no task '{}' (finished tasks are kept for 7 days)", id));
}

Status must_be_running(const nlohmann::json& task) {
    if (task_finished(task))
        return fail(Errc::Conflict, "id",
                    fmt::format("task {} has already ended ({})", task.value("id", ""), task.value("state", "")));
    return {};
}

nlohmann::json error_json(const Error& error) {
    return {{"code", errc_name(error.code)}, {"where", error.where}, {"desc", error.desc}};
}

}  // namespace

bool task_finished(const nlohmann::json& task) {
    const std::string state = task.value("state", "");
    return state == "done" || state == "failed";
}

Result<std::string> load_or_create_instance_id(const std::string& data_dir) {
    const std::string path = data_dir + "/instance-id";
    {
        std::ifstream in(path);
        std::string id;
        if (in && std::getline(in, id) && is_uuid(id)) return id;
    }
    // Written to a temporary name and renamed, so a crash never leaves a half-written id.
    const std::string id = new_uuid();
    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return fail(Errc::Internal, "data_dir", fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
    const std::string line = id + "\n";
    const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!written || ::rename(tmp.c_str(), path.c_str()) != 0) {
        ::unlink(tmp.c_str());
        return fail(Errc::Internal, "data_dir", fmt::format("cannot write {}: {}", path, std::strerror(errno)));
    }
    return id;
}

TaskService::TaskService(store::Store& store, const Clock& clock, std::string owner, TaskOptions options)
    : store_(store), clock_(clock), owner_(std::move(owner)), options_(options) {}

Result<std::string> TaskService::create(std::string_view kind, std::string_view host, std::string_view uuid,
                                        std::string_view message) {
    const std::string id = new_uuid();
    const std::string now = iso_time(clock_.now_millis());
    const nlohmann::json task = {
        {"id", id},           {"kind", kind},   {"host", host},       {"uuid", uuid},
        {"state", "running"}, {"progress", 0},  {"message", message}, {"log", nlohmann::json::array()},
        {"created", now},     {"updated", now}, {"owner", owner_},    {"cleanup", nlohmann::json::array()}};
    auto put = store_.compare_and_swap(task_key(id), 0, dump(task));
    if (!put) return tl::unexpected(put.error());
    if (++created_ % kPruneEvery == 0) {
        if (auto pruned = prune(); !pruned)
            kvmhub::log::get("tasks")->warn("cannot prune finished tasks error={}", pruned.error().desc);
    }
    return id;
}

Status TaskService::update(const std::string& id, const std::function<Status(nlohmann::json& task)>& change) {
    if (auto ok = check_id(id); !ok) return ok;
    const std::string key = task_key(id);
    for (int attempt = 0; attempt < kMaxSwapAttempts; ++attempt) {
        auto kv = store_.get(key);
        if (!kv) return tl::unexpected(kv.error());
        if (!*kv) return no_task(id);
        auto task = nlohmann::json::parse((*kv)->value, nullptr, false);
        if (!task.is_object()) return kvmhub::fail(Errc::Internal, key, "the stored task is not a JSON object");
        if (auto ok = change(task); !ok) return ok;
        task["updated"] = iso_time(clock_.now_millis());
        auto put = store_.compare_and_swap(key, (*kv)->mod_revision, dump(task));
        if (put) return {};
        if (put.error().code != Errc::Conflict) return tl::unexpected(put.error());
    }
    return kvmhub::fail(Errc::Conflict, "id", fmt::format("task {} keeps changing; try again", id));
}

Status TaskService::progress(const std::string& id, int percent, std::string_view message) {
    return update(id, [&](nlohmann::json& task) -> Status {
        if (auto ok = must_be_running(task); !ok) return ok;
        if (percent >= 0) task["progress"] = std::min(percent, 100);
        if (!message.empty()) task["message"] = message;
        return {};
    });
}

Status TaskService::log(const std::string& id, std::string_view line) {
    return update(id, [&](nlohmann::json& task) -> Status {
        if (auto ok = must_be_running(task); !ok) return ok;
        auto& lines = task["log"];
        if (!lines.is_array()) lines = nlohmann::json::array();
        lines.push_back(std::string(line));
        if (lines.size() > options_.log_lines)
            lines.erase(lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(lines.size() - options_.log_lines));
        return {};
    });
}

Status TaskService::add_cleanup(const std::string& id, std::string_view entry) {
    return update(id, [&](nlohmann::json& task) -> Status {
        if (auto ok = must_be_running(task); !ok) return ok;
        auto& list = task["cleanup"];
        if (!list.is_array()) list = nlohmann::json::array();
        const nlohmann::json value = std::string(entry);
        if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(value);
        return {};
    });
}

Status TaskService::remove_cleanup(const std::string& id, std::string_view entry) {
    return update(id, [&](nlohmann::json& task) -> Status {
        auto& list = task["cleanup"];
        if (!list.is_array()) list = nlohmann::json::array();
        const nlohmann::json value = std::string(entry);
        list.erase(std::remove(list.begin(), list.end(), value), list.end());
        return {};
    });
}

Status TaskService::finish(const std::string& id, const nlohmann::json& result) {
    return update(id, [&](nlohmann::json& task) -> Status {
        if (auto ok = must_be_running(task); !ok) return ok;
        task["state"] = "done";
        task["progress"] = 100;
        task["result"] = result;
        task["cleanup"] = nlohmann::json::array();
        return {};
    });
}

Status TaskService::fail(const std::string& id, const Error& error) {
    return update(id, [&](nlohmann::json& task) -> Status {
        if (auto ok = must_be_running(task); !ok) return ok;
        task["state"] = "failed";
        task["message"] = error.desc;
        task["error"] = error_json(error);
        return {};
    });
}

Result<nlohmann::json> TaskService::get(const std::string& id) {
    if (auto ok = check_id(id); !ok) return tl::unexpected(ok.error());
    auto kv = store_.get(task_key(id));
    if (!kv) return tl::unexpected(kv.error());
    if (!*kv) return no_task(id);
    auto task = nlohmann::json::parse((*kv)->value, nullptr, false);
    if (!task.is_object()) return kvmhub::fail(Errc::Internal, task_key(id), "the stored task is not a JSON object");
    return task;
}

Status TaskService::follow(const std::string& id, const std::function<bool(const nlohmann::json& task)>& on_change,
                           const std::function<bool()>& on_idle, std::chrono::milliseconds keepalive,
                           std::chrono::milliseconds poll) {
    if (auto ok = check_id(id); !ok) return ok;
    const std::string key = task_key(id);
    // Changes arrive on the store's dispatcher thread, which must not block: they are queued and
    // handled here. The state is shared with the callback, which may still run while the Watch
    // is being destroyed.
    struct Queue {
        std::mutex mutex;
        std::condition_variable changed;
        std::deque<store::Event> events;
    };
    auto queue = std::make_shared<Queue>();
    // Watch first, then read: a change between the two is seen twice (skipped by revision), never lost.
    auto watch = store_.watch(key, [queue, key](const std::vector<store::Event>& events) {
        std::lock_guard lock(queue->mutex);
        for (const auto& e : events)
            if (e.kv.key == key) queue->events.push_back(e);
        queue->changed.notify_one();
    });
    if (!watch) return tl::unexpected(watch.error());
    auto kv = store_.get(key);
    if (!kv) return tl::unexpected(kv.error());
    if (!*kv) return no_task(id);

    using Steady = std::chrono::steady_clock;
    std::int64_t seen = 0;
    Steady::time_point last_sent = Steady::now();
    // Returns false when following ends: the task finished or is gone, or on_change said stop.
    auto deliver = [&](const store::Event& e) {
        if (e.kv.mod_revision <= seen) return true;
        seen = e.kv.mod_revision;
        if (e.type == store::EventType::Delete) return false;
        auto task = nlohmann::json::parse(e.kv.value, nullptr, false);
        if (!task.is_object()) return true;
        last_sent = Steady::now();
        return on_change(task) && !task_finished(task);
    };
    if (!deliver(store::Event{store::EventType::Put, **kv})) return {};

    Steady::time_point next_poll = Steady::now() + poll;
    for (;;) {
        const Steady::time_point next_idle = last_sent + keepalive;
        std::deque<store::Event> events;
        {
            std::unique_lock lock(queue->mutex);
            queue->changed.wait_until(lock, std::min(next_idle, next_poll), [&] { return !queue->events.empty(); });
            events.swap(queue->events);
        }
        for (const auto& e : events)
            if (!deliver(e)) return {};
        const Steady::time_point now = Steady::now();
        if (now >= next_poll) {
            next_poll = now + poll;
            auto current = store_.get(key);
            if (!current) return tl::unexpected(current.error());
            store::Event polled{store::EventType::Delete, store::KeyValue{key, {}, 0, seen + 1, 0, 0}};
            if (*current) polled = store::Event{store::EventType::Put, **current};
            if (!deliver(polled)) return {};
        }
        if (now >= last_sent + keepalive) {
            last_sent = now;
            if (!on_idle()) return {};
        }
    }
}

Result<std::size_t> TaskService::recover(const CleanupFn& cleanup, bool any_owner) {
    auto all = store_.list(kTasksPrefix);
    if (!all) return tl::unexpected(all.error());
    std::size_t failed = 0;
    for (const auto& kv : *all) {
        auto task = nlohmann::json::parse(kv.value, nullptr, false);
        if (!task.is_object() || task.value("state", "") != "running") continue;
        if (!any_owner && task.value("owner", "") != owner_) continue;
        const std::string id = task.value("id", "");
        // What the task made is removed first; entries that cannot be stay listed in the failed task.
        nlohmann::json left = nlohmann::json::array();
        std::vector<std::string> notes;
        if (auto entries = task.find("cleanup"); entries != task.end() && entries->is_array()) {
            for (const auto& entry : *entries) {
                if (!entry.is_string()) continue;
                const std::string what = entry.get<std::string>();
                Status removed = cleanup ? cleanup(task, what) : Status{};
                if (removed) {
                    notes.push_back(fmt::format("cleanup {}: removed", what));
                } else {
                    notes.push_back(fmt::format("cleanup {}: {}", what, removed.error().desc));
                    left.push_back(what);
                }
            }
        }
        auto done = update(id, [&](nlohmann::json& t) -> Status {
            if (t.value("state", "") != "running") return {};  // it ended meanwhile: nothing to do
            t["state"] = "failed";
            t["message"] = kInterruptedMessage;
            t["error"] = error_json(Error{Errc::Internal, "task", std::string(kInterruptedMessage)});
            t["cleanup"] = left;
            auto& lines = t["log"];
            if (!lines.is_array()) lines = nlohmann::json::array();
            for (const auto& n : notes) lines.push_back(n);
            while (lines.size() > options_.log_lines) lines.erase(lines.begin());
            return {};
        });
        if (!done) return tl::unexpected(done.error());
        kvmhub::log::get("tasks")->warn("task {} ({} {} {}) {}; {} cleanup entries left", id, task.value("kind", ""),
                                        task.value("host", ""), task.value("uuid", ""), kInterruptedMessage,
                                        left.size());
        ++failed;
    }
    return failed;
}

Result<std::size_t> TaskService::prune() {
    auto all = store_.list(kTasksPrefix);
    if (!all) return tl::unexpected(all.error());
    struct Finished {
        std::int64_t updated;
        const store::KeyValue* kv;
    };
    std::vector<Finished> finished;
    for (const auto& kv : *all) {
        auto task = nlohmann::json::parse(kv.value, nullptr, false);
        if (!task.is_object() || !task_finished(task)) continue;
        finished.push_back({parse_iso_seconds(task.value("updated", "")), &kv});
    }
    // Newest first: the first max_finished that are young enough stay.
    std::sort(finished.begin(), finished.end(), [](const Finished& a, const Finished& b) {
        return a.updated != b.updated ? a.updated > b.updated : a.kv->mod_revision > b.kv->mod_revision;
    });
    const std::int64_t oldest = clock_.now_seconds() - options_.keep_finished.count();
    std::size_t removed = 0;
    for (std::size_t i = 0; i < finished.size(); ++i) {
        if (i < options_.max_finished && finished[i].updated >= oldest) continue;
        // Only if unchanged since listed: a task is never removed on the strength of a stale read.
        auto erased = store_.compare_and_erase(finished[i].kv->key, finished[i].kv->mod_revision);
        if (erased) {
            ++removed;
        } else if (erased.error().code != Errc::Conflict) {
            return tl::unexpected(erased.error());
        }
    }
    return removed;
}

}  // namespace kvmhub::vm
