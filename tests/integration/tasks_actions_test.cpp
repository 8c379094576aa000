// Through the real daemon: action scripts stored beside device templates (CRUD, backup/restore),
// and tasks (GET /api/tasks/<id>, its SSE events, restart recovery on the daemon's SQLite file).
//
// No route creates tasks yet (attach will), so the tests write tasks into the daemon's SQLite file
// from this process, as a second daemon on the same file would; the daemon sees such changes by
// re-reading the task every second while it streams events.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/clock.hpp"
#include "common/ids.hpp"
#include "store/sqlite_store.hpp"
#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/raw_socket.hpp"
#include "support/temp_dir.hpp"
#include "vm/tasks.hpp"

namespace kvmhub::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::unique_ptr<store::SqliteStore> open_db(const std::string& data_dir) {
    static SystemClock clock;
    auto opened = store::SqliteStore::open(data_dir + "/kvmhub.db", clock);
    if (!opened) throw std::runtime_error(opened.error().desc);
    return std::move(*opened);
}

void expect_error(const HttpResponse& r, long status, const std::string& field, const std::string& fragment) {
    EXPECT_EQ(r.status, status) << r.body;
    auto j = r.json();
    EXPECT_EQ(j["result"], "ERR") << r.body;
    EXPECT_EQ(j["name"], field) << r.body;
    EXPECT_NE(j.value("desc", "").find(fragment), std::string::npos) << "desc lacks '" << fragment << "': " << r.body;
}

// The events of an SSE body, as (event, data) pairs; comments (": ping") are skipped.
std::vector<std::pair<std::string, json>> parse_events(const std::string& body) {
    std::vector<std::pair<std::string, json>> out;
    std::size_t start = 0;
    while (start < body.size()) {
        std::size_t end = body.find("\n\n", start);
        if (end == std::string::npos) break;
        const std::string block = body.substr(start, end - start);
        start = end + 2;
        std::string event, data;
        std::size_t line_start = 0;
        while (line_start <= block.size()) {
            std::size_t line_end = block.find('\n', line_start);
            if (line_end == std::string::npos) line_end = block.size();
            const std::string line = block.substr(line_start, line_end - line_start);
            if (line.starts_with("event: ")) event = line.substr(7);
            if (line.starts_with("data: ")) data = line.substr(6);
            line_start = line_end + 1;
        }
        if (!event.empty()) out.emplace_back(event, json::parse(data, nullptr, false));
    }
    return out;
}

// Removes chunked transfer framing from what a raw socket read.
std::string unchunk(const std::string& raw) {
    const std::size_t head_end = raw.find("\r\n\r\n");
    if (head_end == std::string::npos) return {};
    std::string body;
    std::size_t pos = head_end + 4;
    while (pos < raw.size()) {
        const std::size_t line_end = raw.find("\r\n", pos);
        if (line_end == std::string::npos) break;
        const std::size_t size = std::stoul(raw.substr(pos, line_end - pos), nullptr, 16);
        if (size == 0) break;
        body += raw.substr(line_end + 2, size);
        pos = line_end + 2 + size + 2;
    }
    return body;
}

// ---- action scripts ----

class Actions : public ::testing::Test {
protected:
    void SetUp() override { token_ = daemon_.login(); }
    HttpResponse call(const std::string& method, const std::string& path, const std::string& body = {}) {
        return http_request(method, daemon_.url() + path, body, bearer(token_));
    }

    Daemon daemon_;
    std::string token_;
};

TEST_F(Actions, StoredBesideTheirDeviceTemplate) {
    const std::string tpl = "{#- extra disk -#}\n<disk type='file' device='disk'/>\n";
    const std::string script = "#!/bin/bash\nREQ=$(cat)\necho \"attaching ${TYPE} on ${HOSTIP}\"\n";
    ASSERT_EQ(call("PUT", "/conf/template/device/disk.extra", tpl).status, 200);
    ASSERT_EQ(call("PUT", "/conf/template/action/disk.extra", script).status, 200);
    auto got = call("GET", "/conf/template/action/disk.extra");
    ASSERT_EQ(got.status, 200);
    EXPECT_EQ(got.body, script) << "stored byte for byte; a script is not a template";
    EXPECT_EQ(call("GET", "/conf/template/action/").json()["templates"], json::array({"disk.extra"}));
    EXPECT_EQ(call("GET", "/conf/template/device/disk.extra").body, tpl) << "the template itself is unchanged";

    // Replaced by a second PUT, deleted alone, or with its template.
    ASSERT_EQ(call("PUT", "/conf/template/action/disk.extra", "echo v2\n").status, 200);
    EXPECT_EQ(call("GET", "/conf/template/action/disk.extra").body, "echo v2\n");
    ASSERT_EQ(call("DELETE", "/conf/template/action/disk.extra").status, 200);
    expect_error(call("GET", "/conf/template/action/disk.extra"), 404, "name", "has no action");
    EXPECT_EQ(call("GET", "/conf/template/device/disk.extra").status, 200) << "deleting the action keeps the template";
    ASSERT_EQ(call("PUT", "/conf/template/action/disk.extra", script).status, 200);
    ASSERT_EQ(call("DELETE", "/conf/template/device/disk.extra").status, 200);
    EXPECT_EQ(call("GET", "/conf/template/action/disk.extra").status, 404) << "the action went with its template";

    // The audit log names the action.
    auto audit = call("GET", "/api/audit?limit=20").json()["audit"];
    bool seen = false;
    for (const auto& e : audit) seen = seen || (e["action"] == "template.put" && e["target"] == "action/disk.extra");
    EXPECT_TRUE(seen) << audit.dump();
}

TEST_F(Actions, BadActionsAreRefusedAndChangeNothing) {
    expect_error(call("PUT", "/conf/template/action/disk.nosuch", "echo hi\n"), 404, "name",
                 "no device template named 'disk.nosuch'");
    EXPECT_EQ(call("GET", "/conf/template/action/disk.nosuch").status, 404);
    expect_error(call("PUT", "/conf/template/action/extra", "echo hi\n"), 400, "name", "<disk|net|cdrom>.<name>");
    expect_error(call("PUT", "/conf/template/action/disk.file", " \n\t\n"), 400, "script", "empty");
    expect_error(call("PUT", "/conf/template/action/disk.file", std::string("echo a\0b\n", 9)), 400, "body", "NUL");
    EXPECT_EQ(call("GET", "/conf/template/action/disk.file").status, 404);
    expect_error(call("DELETE", "/conf/template/action/disk.file"), 404, "name", "has no action");
    // A device template enabled on a host cannot be deleted: its action stays too.
    ASSERT_EQ(call("PUT", "/conf/template/action/disk.file", "echo hi\n").status, 200);
    json host = {{"name", "h-act"},       {"tpl", "domain"}, {"url", "test:///default"}, {"arch", "x86_64"},
                 {"ipaddr", "127.0.0.1"}, {"sshport", 22},   {"sshuser", "root"},        {"disk.file", "on"}};
    ASSERT_EQ(call("POST", "/conf/host/", host.dump()).status, 200);
    EXPECT_EQ(call("DELETE", "/conf/template/device/disk.file").status, 409);
    EXPECT_EQ(call("GET", "/conf/template/action/disk.file").body, "echo hi\n");
}

TEST_F(Actions, IncludedInBackupsAndRestored) {
    const std::string script = "set -o pipefail\necho \"größe ${ACT_TMOUT:-5}\"\n";
    ASSERT_EQ(call("PUT", "/conf/template/action/disk.file", script).status, 200);
    auto archive = call("GET", "/conf/backup/");
    ASSERT_EQ(archive.status, 200);
    ASSERT_EQ(call("DELETE", "/conf/template/action/disk.file").status, 200);
    auto restored = http_upload(daemon_.url() + "/conf/restore/", "file", "b.tgz", archive.body, bearer(token_));
    ASSERT_EQ(restored.status, 200) << restored.body;
    EXPECT_TRUE(restored.json()["skip"].empty()) << restored.body;
    EXPECT_EQ(call("GET", "/conf/template/action/disk.file").body, script);
}

// ---- tasks ----

// A data dir whose SQLite file holds tasks left by an earlier daemon, and a daemon started on it.
class Tasks : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new TempDir;
        const std::string data = dir_->file("data");
        std::filesystem::create_directories(data);
        {
            auto db = open_db(data);
            SystemClock clock;
            vm::TaskService before(*db, clock, "daemon-that-died");
            interrupted_ = new std::string(*before.create("disk", "h1", "6f1c3e4a-8d2b-4c1e-9a7f-0b1c2d3e4f50"));
            before.progress(*interrupted_, 30, "uploading");
            before.add_cleanup(*interrupted_, "kvmhub/vdb-6f1c3e4a.qcow2");
            done_ = new std::string(*before.create("disk", "h1", ""));
            before.finish(*done_, {{"dev", "vdb"}});
        }
        daemon_ = new Daemon(DaemonOptions{.args = {"--data-dir", data}});
        token_ = new std::string(daemon_->login());
    }
    static void TearDownTestSuite() {
        delete daemon_;
        delete dir_;
        delete token_;
        delete interrupted_;
        delete done_;
    }
    static HttpResponse get(const std::string& path) { return http_get(daemon_->url() + path, bearer(*token_)); }
    static std::string data_dir() { return dir_->file("data"); }

    static TempDir* dir_;
    static Daemon* daemon_;
    static std::string* token_;
    static std::string* interrupted_;
    static std::string* done_;
};
TempDir* Tasks::dir_ = nullptr;
Daemon* Tasks::daemon_ = nullptr;
std::string* Tasks::token_ = nullptr;
std::string* Tasks::interrupted_ = nullptr;
std::string* Tasks::done_ = nullptr;

TEST_F(Tasks, ARunningTaskOfTheDeadDaemonIsFailedAtStart) {
    auto r = get("/api/tasks/" + *interrupted_);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("content-type"), "application/json");
    json t = r.json();
    EXPECT_EQ(t["id"], *interrupted_);
    EXPECT_EQ(t["kind"], "disk");
    EXPECT_EQ(t["host"], "h1");
    EXPECT_EQ(t["uuid"], "6f1c3e4a-8d2b-4c1e-9a7f-0b1c2d3e4f50");
    EXPECT_EQ(t["state"], "failed");
    EXPECT_EQ(t["progress"], 30);
    EXPECT_EQ(t["message"], "interrupted by a restart of kvmhubd");
    // An entry that is not "volume <pool>/<name>" cannot be removed: it stays listed, and the log
    // says why (tests/system/devices_test.cpp has volumes really removed after a kill).
    EXPECT_EQ(t["cleanup"], json::array({"kvmhub/vdb-6f1c3e4a.qcow2"}));
    ASSERT_FALSE(t["log"].empty());
    EXPECT_NE(t["log"].back().get<std::string>().find("unknown cleanup entry"), std::string::npos) << t.dump();
    EXPECT_NE(daemon_->output().find("interrupted by a restart of kvmhubd"), std::string::npos);

    EXPECT_EQ(get("/api/tasks/" + *done_).json()["state"], "done") << "finished tasks are left alone";
}

TEST_F(Tasks, UnknownIdsAndMissingTokens) {
    expect_error(get("/api/tasks/" + new_uuid()), 404, "id", "no task");
    expect_error(get("/api/tasks/not-a-task"), 404, "id", "no task");
    expect_error(get("/api/tasks/" + new_uuid() + "/events"), 404, "id", "no task");
    EXPECT_EQ(http_get(daemon_->url() + "/api/tasks/" + *done_).status, 401);
    EXPECT_EQ(http_get(daemon_->url() + "/api/tasks/" + *done_ + "/events").status, 401);
}

TEST_F(Tasks, ALateSubscriberGetsTheFinalStateAtOnce) {
    auto r = get("/api/tasks/" + *done_ + "/events");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("content-type"), "text/event-stream");
    EXPECT_EQ(r.header("cache-control"), "no-cache");
    auto events = parse_events(r.body);
    ASSERT_EQ(events.size(), 1u) << r.body;
    EXPECT_EQ(events[0].first, "done");
    EXPECT_EQ(events[0].second["result"], (json{{"dev", "vdb"}}));
    EXPECT_EQ(events[0].second, get("/api/tasks/" + *done_).json());

    auto failed = parse_events(get("/api/tasks/" + *interrupted_ + "/events").body);
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0].first, "failed");
}

TEST_F(Tasks, EventsFollowATaskInOrderUntilItEnds) {
    auto db = open_db(data_dir());
    SystemClock clock;
    vm::TaskService worker(*db, clock, "worker");
    const std::string id = *worker.create("gold-upload", "h1", "", "starting");

    RawSocket s(daemon_->port());
    s.send("GET /api/tasks/" + id + "/events HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + *token_ +
           "\r\nConnection: close\r\n\r\n");
    std::string raw = s.read_until("event: progress");
    ASSERT_NE(raw.find("200 OK"), std::string::npos) << raw;
    ASSERT_NE(raw.find("event: progress"), std::string::npos) << raw;
    // Each change waits until the stream has shown the one before, so none is merged with the next.
    ASSERT_TRUE(worker.progress(id, 50, "half way"));
    raw += s.read_until("\"progress\":50");
    ASSERT_TRUE(worker.log(id, "line one"));
    raw += s.read_until("line one");
    ASSERT_TRUE(worker.finish(id, {{"volume", "kvmhub/base.qcow2"}}));
    std::string rest;
    ASSERT_TRUE(s.read_until_closed(rest)) << "the stream ends after the final event";
    raw += rest;

    auto events = parse_events(unchunk(raw));
    ASSERT_EQ(events.size(), 4u) << unchunk(raw);
    EXPECT_EQ(events[0].first, "progress");
    EXPECT_EQ(events[0].second["message"], "starting");
    EXPECT_EQ(events[1].first, "progress");
    EXPECT_EQ(events[1].second["progress"], 50);
    EXPECT_EQ(events[2].second["log"], json::array({"line one"}));
    EXPECT_EQ(events[3].first, "done");
    EXPECT_EQ(events[3].second["result"], (json{{"volume", "kvmhub/base.qcow2"}}));
    EXPECT_EQ(events[3].second["progress"], 100);
}

// The daemon itself restarts: what it ran before is its own (same instance id) and is failed.
TEST(TaskRestart, ADaemonFailsItsOwnRunningTasksAfterARestart) {
    TempDir dir;
    const std::string data = dir.file("data");
    std::string id;
    {
        Daemon first(DaemonOptions{.args = {"--data-dir", data}});
        std::ifstream in(data + "/instance-id");
        std::string owner;
        std::getline(in, owner);
        ASSERT_TRUE(is_uuid(owner)) << "the instance id is kept in the data dir";
        auto db = open_db(data);
        SystemClock clock;
        vm::TaskService as_first(*db, clock, owner);
        id = *as_first.create("disk", "h1", "");
        ASSERT_EQ(first.stop(9), 128 + 9);  // killed mid-task
    }
    Daemon second(DaemonOptions{.args = {"--data-dir", data}});
    auto t = http_get(second.url() + "/api/tasks/" + id, bearer(second.login())).json();
    EXPECT_EQ(t["state"], "failed");
    EXPECT_EQ(t["message"], "interrupted by a restart of kvmhubd");
}

}  // namespace
}  // namespace kvmhub::test
