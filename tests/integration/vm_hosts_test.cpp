// Hosts that misbehave, through the real daemon: a host that never answers times out within
// libvirt.call_timeout while another host keeps answering, and the guest cache resyncs.
#include <chrono>
#include <future>

#include <gtest/gtest.h>

#include "common/clock.hpp"
#include "store/sqlite_store.hpp"
#include "support/blackhole.hpp"
#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/vm_fixtures.hpp"

namespace kvmhub::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Steady = std::chrono::steady_clock;

double seconds_since(Steady::time_point start) {
    return std::chrono::duration<double>(Steady::now() - start).count();
}

class VmHosts : public ::testing::Test {
protected:
    explicit VmHosts(std::map<std::string, std::string> env = {{"KVMHUB_LIBVIRT_CALL_TIMEOUT", "2"}})
        : daemon_({.env = std::move(env)}), token_(daemon_.login()) {}

    void add_host(const std::string& name, const std::string& url) {
        json host = host_body(name, url);
        auto r = http_post(daemon_.url() + "/conf/host/", host.dump(), bearer(token_));
        ASSERT_EQ(r.status, 200) << r.body;
    }
    HttpResponse get(const std::string& path) { return http_get(daemon_.url() + path, bearer(token_)); }

    Daemon daemon_;
    std::string token_;
};

// Declared first, so it is destroyed after the daemon: the daemon stops while calls still hang.
TEST_F(VmHosts, AHostThatNeverAnswersTimesOutWhileAnotherHostAnswers) {
    Blackhole hole;
    add_host("bh", hole.url());
    add_host("t1", "test:///default");

    auto started = Steady::now();
    auto hung = std::async(std::launch::async, [&] { return get("/vm/list/bh"); });
    ASSERT_TRUE(hole.wait_for_connections(1)) << "kvmhubd never tried the blackhole host";
    // While a call to bh hangs, t1 answers at once, again and again.
    for (int i = 0; i < 5; ++i) {
        auto t0 = Steady::now();
        auto ok = get("/vm/list/t1");
        EXPECT_EQ(ok.status, 200) << ok.body;
        EXPECT_LT(seconds_since(t0), 1.0) << "a hung host slowed down another host";
    }
    auto timed_out = hung.get();
    const double took = seconds_since(started);
    EXPECT_EQ(timed_out.status, 504) << timed_out.body;
    EXPECT_EQ(timed_out.json()["result"], "ERR");
    EXPECT_NE(timed_out.json()["desc"].get<std::string>().find("did not answer within 2000 ms"), std::string::npos)
        << timed_out.body;
    EXPECT_GE(took, 1.9);
    EXPECT_LT(took, 6.0) << "the call must end at the configured timeout (2 s)";

    // More calls than the host has slots still end in time, and t1 still answers.
    std::vector<std::future<HttpResponse>> more;
    for (int i = 0; i < 6; ++i) more.push_back(std::async(std::launch::async, [&] { return get("/vm/list/bh"); }));
    EXPECT_EQ(get("/vm/list/t1").status, 200);
    started = Steady::now();
    for (auto& f : more) EXPECT_EQ(f.get().status, 504);
    EXPECT_LT(seconds_since(started), 6.0);
    EXPECT_EQ(get("/vm/list/t1").status, 200);
}

// The host entry of /tpl/host/ named `name` ({} when missing).
json host_entry(const HttpResponse& listing, const std::string& name) {
    const json body = listing.json();
    for (const auto& h : body["host"])
        if (h.value("name", "") == name) return h;
    return json::object();
}

// A host that stops answering is visible as such: its state in /tpl/host/ and /metrics carry
// the last call's latency and the timeouts, and the log says which call and how long.
TEST_F(VmHosts, AHostThatTimesOutShowsItInItsStateMetricsAndLog) {
    Blackhole hole;
    add_host("bh", hole.url());
    add_host("t1", "test:///default");

    auto before = host_entry(get("/tpl/host/"), "bh");
    EXPECT_EQ(before["libvirt"], (json{{"calls", 0}, {"timeouts", 0}, {"slow", false}})) << before.dump();

    EXPECT_EQ(get("/vm/list/t1").status, 200);
    EXPECT_EQ(get("/vm/list/bh").status, 504);

    auto listing = get("/tpl/host/");
    ASSERT_EQ(listing.status, 200) << listing.body;
    auto bh = host_entry(listing, "bh")["libvirt"];
    EXPECT_EQ(bh["slow"], true) << bh.dump();
    EXPECT_EQ(bh["last_timed_out"], true) << bh.dump();
    EXPECT_GE(bh["timeouts"].get<int>(), 1) << bh.dump();
    EXPECT_GE(bh["last_call_ms"].get<int>(), 2000) << bh.dump();
    EXPECT_FALSE(bh["last_op"].get<std::string>().empty()) << bh.dump();
    EXPECT_TRUE(bh.contains("last_timeout_at")) << bh.dump();
    auto t1 = host_entry(listing, "t1")["libvirt"];
    EXPECT_EQ(t1["slow"], false) << t1.dump();
    EXPECT_EQ(t1["timeouts"], 0) << t1.dump();
    EXPECT_GE(t1["calls"].get<int>(), 1) << t1.dump();
    EXPECT_LT(t1["last_call_ms"].get<int>(), 2000) << t1.dump();

    auto metrics = http_get(daemon_.url() + "/metrics");
    ASSERT_EQ(metrics.status, 200);
    EXPECT_NE(metrics.body.find("kvmhub_libvirt_call_timeouts_total{host=\"bh\"} "), std::string::npos) << metrics.body;
    EXPECT_NE(metrics.body.find("kvmhub_libvirt_last_call_seconds{host=\"bh\"} 2"), std::string::npos) << metrics.body;
    EXPECT_NE(metrics.body.find("kvmhub_libvirt_last_call_seconds{host=\"t1\"} "), std::string::npos) << metrics.body;
    EXPECT_NE(metrics.body.find("kvmhub_libvirt_call_duration_seconds_count{host=\"t1\"} "), std::string::npos)
        << metrics.body;
    EXPECT_EQ(metrics.body.find("kvmhub_libvirt_call_timeouts_total{host=\"t1\"}"), std::string::npos) << metrics.body;

    const std::string log = daemon_.output();
    auto line = log.find("libvirt call timed out host=bh ");
    ASSERT_NE(line, std::string::npos) << log;
    const std::string text = log.substr(line, log.find('\n', line) - line);
    EXPECT_NE(text.find(" op="), std::string::npos) << text;
    EXPECT_NE(text.find(" ms=2000"), std::string::npos) << text;
}

class VmCacheResync : public VmHosts {
protected:
    VmCacheResync() : VmHosts({{"KVMHUB_LIBVIRT_RESYNC_INTERVAL", "1"}}) {}
};

TEST_F(VmCacheResync, ThePeriodicResyncDropsWhatNoHostHasAndAddsWhatItHas) {
    add_host("t1", "test:///default");
    // test:///default starts with one domain, "test"; nothing has listed t1 yet.
    SystemClock clock;
    auto store = store::SqliteStore::open(daemon_.data_dir() + "/kvmhub.db", clock);
    ASSERT_TRUE(store);
    const std::string ghost = "/guests/t1/6f1c3e4a-8d2b-4c1e-9a7f-0b1c2d3e4f50";
    ASSERT_TRUE((*store)->put(ghost, R"({"uuid":"6f1c3e4a-8d2b-4c1e-9a7f-0b1c2d3e4f50","state":"RUNNING"})"));
    ASSERT_TRUE((*store)->put("/guests/gone/6f1c3e4a-8d2b-4c1e-9a7f-0b1c2d3e4f51", "{}"));

    auto deadline = Steady::now() + 15s;
    bool resynced = false;
    while (!resynced && Steady::now() < deadline) {
        std::this_thread::sleep_for(100ms);
        auto ghost_now = (*store)->get(ghost);
        auto orphan = (*store)->get("/guests/gone/6f1c3e4a-8d2b-4c1e-9a7f-0b1c2d3e4f51");
        auto listed = (*store)->list("/guests/t1/");
        resynced = ghost_now && !*ghost_now && orphan && !*orphan && listed && listed->size() == 1;
    }
    EXPECT_TRUE(resynced) << "the cache still has a VM no host has, or lacks the host's VM";
    // /vm/list/ serves the resynced cache: the test driver's own domain, nothing else.
    auto all = get("/vm/list/").json();
    ASSERT_EQ(all["guest"].size(), 1u) << all.dump();
    ASSERT_EQ(all["guest"][0]["guests"].size(), 1u) << all.dump();
    EXPECT_EQ(all["guest"][0]["guests"][0]["name"], "test");
}

TEST_F(VmCacheResync, OneVmIsServedFromTheCacheAndADeletedHostTakesItsCacheAlong) {
    add_host("t1", "test:///default");
    auto listed = get("/vm/list/t1").json();  // caches the host and its VMs
    ASSERT_EQ(listed["guest"].size(), 1u) << listed.dump();
    const std::string uuid = listed["guest"][0]["uuid"];
    SystemClock clock;
    auto store = store::SqliteStore::open(daemon_.data_dir() + "/kvmhub.db", clock);
    ASSERT_TRUE(store);
    // What the cache holds is what /vm/list/<host>/<uuid> answers, host information included.
    auto entry = (*store)->get("/guests/t1/" + uuid);
    ASSERT_TRUE(entry && *entry);
    json planted = json::parse((*entry)->value);
    planted["desc"] = "from the cache";
    ASSERT_TRUE((*store)->put("/guests/t1/" + uuid, planted.dump()));
    auto one = get("/vm/list/t1/" + uuid);
    ASSERT_EQ(one.status, 200) << one.body;
    EXPECT_EQ(one.json()["result"], "OK");
    EXPECT_EQ(one.json()["guest"]["desc"], "from the cache");
    for (const char* field : {"hostname", "freemem", "totalmem", "totalcpu", "mhz", "totalvm", "active"})
        EXPECT_TRUE(one.json().contains(field)) << field << " missing: " << one.body;
    // A VM the cache does not have is asked of the host (and then cached).
    ASSERT_TRUE((*store)->erase("/guests/t1/" + uuid));
    auto live = get("/vm/list/t1/" + uuid);
    ASSERT_EQ(live.status, 200) << live.body;
    EXPECT_EQ(live.json()["guest"]["name"], "test");
    auto recached = (*store)->get("/guests/t1/" + uuid);
    EXPECT_TRUE(recached && *recached);

    auto deleted = http_request("DELETE", daemon_.url() + "/conf/host/?name=t1", {}, bearer(token_));
    ASSERT_EQ(deleted.status, 200) << deleted.body;
    auto guests = (*store)->list("/guests/t1/");
    ASSERT_TRUE(guests);
    EXPECT_TRUE(guests->empty());
    auto info = (*store)->get("/hostinfo/t1");
    ASSERT_TRUE(info);
    EXPECT_FALSE(*info);
}

}  // namespace
}  // namespace kvmhub::test
