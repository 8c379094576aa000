// Hosts that misbehave, through the real daemon: a host that never answers times out within
// libvirt.call_timeout while another host keeps answering, and the guest cache resyncs.
#include <chrono>
#include <fstream>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include "common/clock.hpp"
#include "store/sqlite_store.hpp"
#include "support/blackhole.hpp"
#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/temp_dir.hpp"
#include "support/vm_fixtures.hpp"

namespace kvmhub::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Steady = std::chrono::steady_clock;

class VmHosts : public ::testing::Test {
protected:
    explicit VmHosts(std::map<std::string, std::string> env = {{"KVMHUB_LIBVIRT_CALL_TIMEOUT", "2"}},
                     const std::string& config = "")
        : daemon_({.args = config_args(config), .env = std::move(env)}), token_(daemon_.login()) {}

    // --config with `config` as the file, when there is one.
    std::vector<std::string> config_args(const std::string& config) {
        if (config.empty()) return {};
        std::ofstream(dir_.file("kvmhub.toml")) << config;
        return {"--config", dir_.file("kvmhub.toml")};
    }

    void add_host(const std::string& name, const std::string& url) {
        json host = host_body(name, url);
        auto r = http_post(daemon_.url() + "/conf/host/", host.dump(), bearer(token_));
        ASSERT_EQ(r.status, 200) << r.body;
    }
    HttpResponse get(const std::string& path) { return http_get(daemon_.url() + path, bearer(token_)); }

    TempDir dir_;
    Daemon daemon_;
    std::string token_;
};

class DeadHosts : public VmHosts {
protected:
    DeadHosts() : VmHosts({{"KVMHUB_LIBVIRT_CALL_TIMEOUT", "10"}}) {}
};

class NarrowLanes : public VmHosts {
protected:
    NarrowLanes() : VmHosts({{"KVMHUB_LIBVIRT_CALL_TIMEOUT", "3"}}, "[http]\nhost_requests = 1\nhost_queue = 1\n") {}
};

// The host entry of /tpl/host/ named `name` ({} when missing).
json host_entry(const HttpResponse& listing, const std::string& name) {
    const json body = listing.json();
    for (const auto& h : body["host"])
        if (h.value("name", "") == name) return h;
    return json::object();
}

// Five hosts that accept TCP and never answer, 20 requests to them in flight: more than the
// HTTP workers (4 here) and a fixed pool of libvirt threads (16 before) would have absorbed.
// The cached list, /tpl/host/, metadata and another host's live list all answer while those 20
// are still pending (asserted by order: each is checked still pending afterwards), and each of
// the 20 then fails with a status naming its host; the dead hosts show unreachable.
TEST_F(DeadHosts, TwentyRequestsToFiveDeadHostsStallNothingElse) {
    std::vector<std::unique_ptr<Blackhole>> holes;
    for (int i = 0; i < 5; ++i) {
        holes.push_back(std::make_unique<Blackhole>());
        add_host(fmt::format("bh{}", i), holes.back()->url());
    }
    add_host("t1", "test:///default");
    auto created = http_post(daemon_.url() + "/vm/create/t1", json{{"vm_name", "alive"}}.dump(), bearer(token_));
    ASSERT_EQ(created.status, 200) << created.body;
    const std::string uuid = created.json()["uuid"];

    std::vector<std::pair<std::string, std::future<HttpResponse>>> stuck;
    for (int i = 0; i < 5; ++i)
        for (int r = 0; r < 4; ++r) {
            const std::string host = fmt::format("bh{}", i);
            stuck.emplace_back(host, std::async(std::launch::async, [this, host] { return get("/vm/list/" + host); }));
        }
    for (auto& hole : holes) ASSERT_TRUE(hole->wait_for_connections(1)) << "kvmhubd never tried a blackhole host";
    // All 20 hold a slot of their host: /tpl/host/ answers, and says so.
    int in_flight = 0;
    for (int tries = 0; tries < 300 && in_flight < 20; ++tries) {
        auto listing = get("/tpl/host/");
        ASSERT_EQ(listing.status, 200) << listing.body;
        in_flight = 0;
        for (int i = 0; i < 5; ++i)
            in_flight += host_entry(listing, fmt::format("bh{}", i))["libvirt"].value("in_flight", 0);
        if (in_flight < 20) std::this_thread::sleep_for(20ms);
    }
    ASSERT_EQ(in_flight, 20) << "the 20 requests never all reached their hosts";

    auto cached = get("/vm/list/");
    EXPECT_EQ(cached.status, 200) << cached.body;
    EXPECT_FALSE(find_cached(cached.json(), uuid).empty()) << cached.body;
    auto meta = http_get(daemon_.url() + "/" + uuid + "/meta-data");
    EXPECT_EQ(meta.status, 200) << meta.body;
    auto live = get("/vm/list/t1");
    EXPECT_EQ(live.status, 200) << live.body;
    EXPECT_NE(live.body.find(uuid), std::string::npos) << live.body;
    auto health = http_get(daemon_.url() + "/healthz");
    EXPECT_EQ(health.status, 200) << health.body;
    for (auto& [host, f] : stuck)
        EXPECT_EQ(f.wait_for(0s), std::future_status::timeout) << "a request to " << host << " ended before the rest";

    for (auto& [host, f] : stuck) {
        auto r = f.get();
        EXPECT_TRUE(r.status == 503 || r.status == 504) << r.status << " " << r.body;
        EXPECT_NE(r.json().value("desc", "").find("host " + host + " "), std::string::npos) << r.body;
    }
    // A dead host is unreachable with its calls stuck, and its next request fails at once.
    auto listing = get("/tpl/host/");
    for (int i = 0; i < 5; ++i) {
        auto state = host_entry(listing, fmt::format("bh{}", i))["libvirt"];
        EXPECT_EQ(state["reachable"], false) << state.dump();
        EXPECT_GE(state["stuck"].get<int>(), 1) << state.dump();
    }
    EXPECT_EQ(host_entry(listing, "t1")["libvirt"]["reachable"], true) << listing.body;
    auto again = get("/vm/list/bh0");
    EXPECT_EQ(again.status, 503) << again.body;
    EXPECT_NE(again.body.find("host bh0 is not answering"), std::string::npos) << again.body;
    // /healthz is public: counts only, never a host's name.
    health = http_get(daemon_.url() + "/healthz");
    ASSERT_EQ(health.status, 200) << health.body;
    EXPECT_EQ(health.json()["hosts"], (json{{"up", 1}, {"down", 5}, {"unknown", 0}})) << health.body;
    EXPECT_EQ(health.body.find("bh"), std::string::npos) << health.body;
    EXPECT_EQ(health.body.find("t1"), std::string::npos) << health.body;
}

// A host lane holds no more requests than http.host_requests + http.host_queue: the next is
// refused at once, naming the host, while another host answers.
TEST_F(NarrowLanes, AFullLaneRefusesAtOnceNamingItsHost) {
    Blackhole hole;
    add_host("bh", hole.url());
    add_host("t1", "test:///default");
    // One runs (stuck), one waits, and the third is refused before either of them ends.
    std::vector<std::future<HttpResponse>> requests;
    for (int i = 0; i < 3; ++i)
        requests.push_back(std::async(std::launch::async, [this] { return get("/vm/list/bh"); }));
    ASSERT_TRUE(hole.wait_for_connections(1));
    std::size_t first = requests.size();
    for (int tries = 0; tries < 1000 && first == requests.size(); ++tries) {
        for (std::size_t i = 0; i < requests.size(); ++i)
            if (requests[i].wait_for(0s) == std::future_status::ready) first = i;
        if (first == requests.size()) std::this_thread::sleep_for(5ms);
    }
    ASSERT_LT(first, requests.size()) << "no request ended";
    for (std::size_t i = 0; i < requests.size(); ++i)
        if (i != first) {
            EXPECT_EQ(requests[i].wait_for(0s), std::future_status::timeout);
        }
    auto refused = requests[first].get();
    EXPECT_EQ(refused.status, 503) << refused.body;
    EXPECT_NE(refused.body.find("host bh has too many requests in progress (1 running, 1 waiting)"), std::string::npos)
        << refused.body;
    EXPECT_EQ(get("/vm/list/t1").status, 200);
    for (std::size_t i = 0; i < requests.size(); ++i) {
        if (i == first) continue;
        auto r = requests[i].get();
        EXPECT_TRUE(r.status == 503 || r.status == 504) << r.body;
    }
}

// A host that stops answering is visible as such: its state in /tpl/host/ and /metrics carry
// the last call's latency and the timeouts, and the log says which call and how long.
TEST_F(VmHosts, AHostThatTimesOutShowsItInItsStateMetricsAndLog) {
    Blackhole hole;
    add_host("bh", hole.url());
    add_host("t1", "test:///default");

    auto before = host_entry(get("/tpl/host/"), "bh");
    EXPECT_EQ(before["libvirt"], (json{{"calls", 0}, {"timeouts", 0}, {"slow", false}, {"in_flight", 0}, {"stuck", 0}}))
        << before.dump();

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
    EXPECT_EQ(bh["reachable"], false) << bh.dump();
    auto t1 = host_entry(listing, "t1")["libvirt"];
    EXPECT_EQ(t1["slow"], false) << t1.dump();
    EXPECT_EQ(t1["timeouts"], 0) << t1.dump();
    EXPECT_GE(t1["calls"].get<int>(), 1) << t1.dump();
    EXPECT_LT(t1["last_call_ms"].get<int>(), 2000) << t1.dump();
    EXPECT_EQ(t1["reachable"], true) << t1.dump();

    auto metrics = http_get(daemon_.url() + "/metrics");
    ASSERT_EQ(metrics.status, 200);
    EXPECT_NE(metrics.body.find("kvmhub_libvirt_call_timeouts_total{host=\"bh\"} "), std::string::npos) << metrics.body;
    EXPECT_NE(metrics.body.find("kvmhub_libvirt_last_call_seconds{host=\"bh\"} 2"), std::string::npos) << metrics.body;
    EXPECT_NE(metrics.body.find("kvmhub_libvirt_last_call_seconds{host=\"t1\"} "), std::string::npos) << metrics.body;
    EXPECT_NE(metrics.body.find("kvmhub_libvirt_call_duration_seconds_count{host=\"t1\"} "), std::string::npos)
        << metrics.body;
    EXPECT_EQ(metrics.body.find("kvmhub_libvirt_call_timeouts_total{host=\"t1\"}"), std::string::npos) << metrics.body;

    // The caller logs the timeout just after the reply went out.
    ASSERT_TRUE(daemon_.wait_for_output("libvirt call timed out host=bh ")) << daemon_.output();
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
        EXPECT_TRUE(one.json()["host"].contains(field)) << field << " missing under host: " << one.body;
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
