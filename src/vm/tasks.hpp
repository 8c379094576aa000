// Long operations (disk provisioning, gold uploads) as tasks in the store, so that their progress
// can be followed (GET /api/tasks/<id>, and its SSE events) and a restarted daemon knows what it
// was doing. One key per task:
//   /tasks/<id>  {"id","kind","host","uuid","state":"running|done|failed","progress":0..100,
//                 "message","log":[last lines],"created","updated" (ISO 8601 UTC),
//                 "owner" (the daemon instance running it),"cleanup":[what it made so far],
//                 "result" (when done) | "error":{"code","where","desc"} (when failed)}
// Only the owner changes a running task; changes go through compare-and-swap all the same, so a
// recovery or a prune racing with the owner cannot lose an update.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "store/store.hpp"

namespace kvmhub::vm {

inline constexpr std::string_view kTasksPrefix = "/tasks/";
inline constexpr std::string_view kInterruptedMessage = "interrupted by a restart of kvmhubd";

// The id of this daemon instance as task owner: a UUID kept in <data_dir>/instance-id, created on
// first use, so a restarted daemon recognises the tasks it ran before.
Result<std::string> load_or_create_instance_id(const std::string& data_dir);

struct TaskOptions {
    std::size_t log_lines = 50;                                      // last output lines kept per task
    std::chrono::seconds keep_finished{std::chrono::hours(24 * 7)};  // finished tasks older are pruned
    std::size_t max_finished = 1000;                                 // and only the newest this many kept
};

// What to do with one `cleanup` entry of a task interrupted by a restart (e.g. delete the volume
// it names). An error leaves the entry in the task's cleanup list, for a person to look at.
using CleanupFn = std::function<Status(const nlohmann::json& task, const std::string& entry)>;

class TaskService {
public:
    TaskService(store::Store& store, const Clock& clock, std::string owner, TaskOptions options = {});

    const std::string& owner() const { return owner_; }

    // A new running task at progress 0; returns its id. Prunes old finished tasks now and then.
    Result<std::string> create(std::string_view kind, std::string_view host, std::string_view uuid,
                               std::string_view message = {});
    // Sets progress (0..100; -1 keeps it) and, when not empty, the message.
    Status progress(const std::string& id, int percent, std::string_view message = {});
    // Appends output lines; only the last TaskOptions::log_lines are kept.
    Status log(const std::string& id, std::string_view line);
    // Records something the task made that must be removed if the daemon dies before the task
    // ends (a volume, a path); and forgets it again once it is owned by something else or removed.
    Status add_cleanup(const std::string& id, std::string_view entry);
    Status remove_cleanup(const std::string& id, std::string_view entry);
    // Ends the task: done (progress 100, `result`, cleanup list emptied: what it made is in use now),
    // or failed with `error` (the cleanup list keeps what the caller could not remove itself).
    Status finish(const std::string& id, const nlohmann::json& result = nlohmann::json::object());
    Status fail(const std::string& id, const Error& error);

    Result<nlohmann::json> get(const std::string& id);

    // Calls `on_change` with the task as it is, then with each change, until it has passed a
    // finished task (state done or failed), the task is deleted, or on_change returns false.
    // After `keepalive` without a change, calls `on_idle`; false from it stops too. Blocks the
    // caller throughout. NotFound when the task does not exist at the start.
    // Changes come from a store watch; the task is also re-read every `poll`, for changes a watch
    // does not report (SQLite watches see only this process's writes, not another process's on the
    // same file). Changes less than `poll` apart may then be seen as one.
    Status follow(const std::string& id, const std::function<bool(const nlohmann::json& task)>& on_change,
                  const std::function<bool()>& on_idle, std::chrono::milliseconds keepalive,
                  std::chrono::milliseconds poll = std::chrono::seconds(1));

    // At start: every running task of this owner (of any owner with `any_owner`, for a store only
    // this daemon uses) is failed with kInterruptedMessage, after `cleanup` was called for each of
    // its cleanup entries. Returns how many tasks were failed.
    Result<std::size_t> recover(const CleanupFn& cleanup, bool any_owner);

    // Deletes finished tasks older than keep_finished, and the oldest beyond max_finished.
    // Returns how many were deleted.
    Result<std::size_t> prune();

private:
    // Applies `change` to the stored task with compare-and-swap, retrying on a concurrent change.
    Status update(const std::string& id, const std::function<Status(nlohmann::json& task)>& change);

    store::Store& store_;
    const Clock& clock_;
    std::string owner_;
    TaskOptions options_;
    std::atomic<std::uint64_t> created_{0};  // tasks created by this instance, to prune every so often
};

bool task_finished(const nlohmann::json& task);

}  // namespace kvmhub::vm
