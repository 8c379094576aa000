// Tasks: GET /api/tasks/<id> (the task as stored) and GET /api/tasks/<id>/events (server-sent
// events until the task ends).
#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "api/routes.hpp"
#include "vm/tasks.hpp"

namespace kvmhub::api {
namespace {

constexpr auto kKeepalive = std::chrono::seconds(15);

std::string id_of(const Request& req) {
    const std::string* id = req.param("id");
    return id ? *id : std::string();
}

// The task itself, not wrapped in {"result":"OK"}: a finished task has a "result" field of its own.
Reply task_get(ApiContext& ctx, Request& req) {
    auto task = ctx.tasks.get(id_of(req));
    if (!task) return Reply::error(task.error());
    return Reply::text(task->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

std::string sse_event(const nlohmann::json& task) {
    const std::string state = task.value("state", "");
    const char* name = state == "done" ? "done" : state == "failed" ? "failed" : "progress";
    // One line of JSON: a data field must not contain a newline.
    return fmt::format("event: {}\ndata: {}\n\n", name,
                       task.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

// Each open event stream holds a worker thread until its task ends or the client goes, so only
// half of the workers may be taken by them; the other requests keep the rest.
int max_event_streams(const Config& config) {
    const int workers = config.http.worker_threads > 0
                            ? config.http.worker_threads
                            : static_cast<int>(std::max(4u, 2 * std::thread::hardware_concurrency()));
    return std::max(1, workers / 2);
}

Reply task_events(ApiContext& ctx, Request& req, const std::shared_ptr<std::atomic<int>>& open_streams) {
    const std::string id = id_of(req);
    // Unknown ids get a plain 404 before the stream starts.
    if (auto task = ctx.tasks.get(id); !task) return Reply::error(task.error());
    if (open_streams->fetch_add(1) >= max_event_streams(ctx.config)) {
        open_streams->fetch_sub(1);
        return Reply::error(Error{Errc::Throttled, "events",
                                  "too many task event streams are open; poll GET /api/tasks/" + id + " instead"});
    }
    struct Slot {
        std::shared_ptr<std::atomic<int>> count;
        ~Slot() { count->fetch_sub(1); }
    };
    auto slot = std::make_shared<Slot>();
    slot->count = open_streams;
    vm::TaskService& tasks = ctx.tasks;
    return Reply::streamed([&tasks, id, slot](const http::StreamWrite& write) {
        auto followed = tasks.follow(
            id, [&](const nlohmann::json& task) { return write(sse_event(task)); }, [&] { return write(": ping\n\n"); },
            kKeepalive);
        // The task vanished between the check and the watch (pruned): say so instead of ending mute.
        if (!followed)
            write(fmt::format(
                "event: failed\ndata: {}\n\n",
                nlohmann::json{{"id", id}, {"state", "failed"}, {"message", followed.error().desc}}.dump()));
    });
}

}  // namespace

std::vector<http::Route> task_routes(ApiContext& ctx) {
    auto open_streams = std::make_shared<std::atomic<int>>(0);
    const http::Input id = http::Input::none().path(http::token("id", 64)).other_query(http::Extras::Ignore);
    return {
        http::Route{Method::Get, "/api/tasks/{id}", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, task_get),
                    0}
            .accepts(id),
        http::Route{Method::Get, "/api/tasks/{id}/events", Access::Admin, Effect::Reads, Surface::Admin,
                    [&ctx, open_streams](Request& req) { return task_events(ctx, req, open_streams); }, 0}
            .accepts(id),
    };
}

}  // namespace kvmhub::api
