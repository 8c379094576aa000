// The /vm/* suite through the real daemon, against one host on a libvirt test driver. Each
// test executable instantiates it for its host (a type with `static std::string url()`):
// test:///default in-process (tests/integration/vm_test.cpp) and a test+unix:// node behind
// a real libvirtd (tests/system/vm_remote_test.cpp).
#pragma once

#include <gtest/gtest.h>

#include "common/clock.hpp"
#include "store/sqlite_store.hpp"
#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/vm_fixtures.hpp"

namespace kvmhub::test {

using nlohmann::json;

template <typename Host>
class Vm : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        daemon_ = new Daemon({.env = Host::env()});
        token_ = new std::string(daemon_->login());
        json host = host_body("t1", Host::url());
        auto r = post("/conf/host/", host.dump());
        ASSERT_EQ(r.status, 200) << r.body;
    }
    static void TearDownTestSuite() {
        delete daemon_;
        delete token_;
    }

    static HttpResponse get(const std::string& path) { return http_get(daemon_->url() + path, bearer(*token_)); }
    static HttpResponse post(const std::string& path, const std::string& body = "{}",
                             std::vector<std::string> headers = {}) {
        HttpOptions options = bearer(*token_);
        options.headers.insert(options.headers.end(), headers.begin(), headers.end());
        return http_post(daemon_->url() + path, body, options);
    }
    static std::string create(const json& body = {{"vm_desc", "test VM"}, {"vm_vcpus", 2}, {"vm_ram_mb", 512}}) {
        auto r = post("/vm/create/t1", body.dump());
        EXPECT_EQ(r.status, 200) << r.body;
        return r.json().value("uuid", "");
    }
    static json guest(const std::string& uuid) { return get("/vm/list/t1/" + uuid).json()["guest"]; }
    static void expect_error(const HttpResponse& r, long status, const std::string& field) {
        EXPECT_EQ(r.status, status) << r.body;
        EXPECT_EQ(r.json()["result"], "ERR") << r.body;
        EXPECT_EQ(r.json()["name"], field) << r.body;
    }

    static Daemon* daemon_;
    static std::string* token_;
};
template <typename Host>
Daemon* Vm<Host>::daemon_ = nullptr;
template <typename Host>
std::string* Vm<Host>::token_ = nullptr;

TYPED_TEST_SUITE_P(Vm);

TYPED_TEST_P(Vm, CreateDefinesAStoppedVmFromTheHostTemplate) {
    auto uuid = this->create({{"vm_desc", "web <b>&</b>"},
                        {"vm_vcpus", 2},
                        {"vm_ram_mb", 512},
                        {"vm_uuid", "ignored"},
                        {"vm_creater", "mallory"}});
    ASSERT_EQ(uuid.size(), 36u);
    auto g = this->guest(uuid);
    EXPECT_EQ(g["uuid"], uuid);
    EXPECT_EQ(g["state"], "SHUTOFF");
    EXPECT_EQ(g["desc"], "web <b>&</b>");
    EXPECT_EQ(g["curcpu"], 2);
    EXPECT_EQ(g["curmem"], 512 * 1024);
    EXPECT_EQ(g["mdconfig"]["vm_creater"], "admin") << "the creator comes from the token, not the body";
    for (const char* field : {"maxcpu", "maxmem", "cputime", "disks", "nets", "mdconfig"})
        EXPECT_TRUE(g.contains(field)) << field;
    HttpResponse xml = this->get("/vm/xml/t1/" + uuid);
    ASSERT_EQ(xml.status, 200);
    EXPECT_NE(xml.json()["xml"].get<std::string>().find(uuid), std::string::npos);
}

TYPED_TEST_P(Vm, HostListHasCapacityAndGuests) {
    auto uuid = this->create();
    HttpResponse r = this->get("/vm/list/t1");
    ASSERT_EQ(r.status, 200) << r.body;
    auto j = r.json();
    for (const char* field : {"hostname", "freemem", "totalmem", "totalcpu", "mhz", "totalvm", "active"})
        EXPECT_TRUE(j["host"].contains(field)) << field << " missing under host: " << r.body;
    bool found = false;
    for (const auto& g : j["guest"]) found = found || g["uuid"] == uuid;
    EXPECT_TRUE(found);
    // The cached list for all hosts has it too, without asking the host.
    bool cached = false;
    const json all = this->get("/vm/list/").json();
    for (const auto& h : all["guest"])
        if (h["kvmhost"] == "t1")
            for (const auto& g : h["guests"]) cached = cached || g["uuid"] == uuid;
    EXPECT_TRUE(cached) << all.dump();
}

TYPED_TEST_P(Vm, LifecycleStartResetStopDelete) {
    auto uuid = this->create();
    ASSERT_EQ(this->get("/vm/start/t1/" + uuid).status, 200);
    EXPECT_EQ(this->guest(uuid)["state"], "RUNNING");
    this->expect_error(this->get("/vm/start/t1/" + uuid), 409, "state");
    EXPECT_EQ(this->post("/vm/reset/t1/" + uuid).status, 200);
    ASSERT_EQ(this->get("/vm/stop/t1/" + uuid + "?force=true").status, 200);
    EXPECT_EQ(this->guest(uuid)["state"], "SHUTOFF");
    HttpResponse deleted = this->get("/vm/delete/t1/" + uuid);
    ASSERT_EQ(deleted.status, 200) << deleted.body;
    EXPECT_TRUE(deleted.json()["failed"].empty());
    this->expect_error(this->get("/vm/list/t1/" + uuid), 404, "uuid");
}

TYPED_TEST_P(Vm, ChangesApplyToTheDefinition) {
    auto uuid = this->create({{"vm_vcpus", 1}, {"vm_vcpus_max", 4}, {"vm_ram_mb", 256}, {"vm_ram_mb_max", 1024}});
    ASSERT_EQ(this->get("/vm/setmem/t1/" + uuid + "?vm_ram_mb=768").status, 200);
    ASSERT_EQ(this->get("/vm/setcpu/t1/" + uuid + "?vm_vcpus=3").status, 200);
    ASSERT_EQ(this->get("/vm/desc/t1/" + uuid + "?vm_desc=renamed%20VM").status, 200);
    HttpResponse md = this->post("/vm/metadata/t1/" + uuid, R"({"vm_ipaddr":"192.0.2.5/24","owner":"team-a","vm_creater":"x"})");
    ASSERT_EQ(md.status, 200) << md.body;
    auto g = this->guest(uuid);
    EXPECT_EQ(g["curmem"], 768 * 1024);
    EXPECT_EQ(g["curcpu"], 3);
    EXPECT_EQ(g["desc"], "renamed VM");
    EXPECT_EQ(g["mdconfig"]["owner"], "team-a");
    EXPECT_EQ(g["mdconfig"]["vm_ipaddr"], "192.0.2.5/24");
    EXPECT_EQ(g["mdconfig"]["vm_creater"], "admin");
    this->expect_error(this->get("/vm/setmem/t1/" + uuid + "?vm_ram_mb=4096"), 400, "vm_ram_mb");
    this->expect_error(this->get("/vm/setcpu/t1/" + uuid + "?vm_vcpus=9"), 400, "vm_vcpus");
    this->expect_error(this->get("/vm/setcpu/t1/" + uuid + "?vm_vcpus=two"), 400, "vm_vcpus");
}

TYPED_TEST_P(Vm, SnapshotsCanBeTakenListedRevertedAndDeleted) {
    auto uuid = this->create();
    ASSERT_EQ(this->post("/vm/snapshot/t1/" + uuid + "?name=first").status, 200);
    ASSERT_EQ(this->post("/vm/snapshot/t1/" + uuid + "?name=second").status, 200);
    json list = this->get("/vm/snapshot/t1/" + uuid).json();
    EXPECT_EQ(list["num"], 2);
    EXPECT_EQ(list["names"], json::array({"first", "second"}));
    EXPECT_EQ(list["current"], "second");
    this->expect_error(this->post("/vm/snapshot/t1/" + uuid + "?name=first"), 409, "name");
    ASSERT_EQ(this->get("/vm/revert_snapshot/t1/" + uuid + "?name=first").status, 200);
    EXPECT_EQ(this->get("/vm/snapshot/t1/" + uuid).json()["current"], "first");
    ASSERT_EQ(this->get("/vm/delete_snapshot/t1/" + uuid + "?name=second").status, 200);
    EXPECT_EQ(this->get("/vm/snapshot/t1/" + uuid).json()["num"], 1);
    this->expect_error(this->get("/vm/delete_snapshot/t1/" + uuid + "?name=nosuch"), 404, "name");
    this->expect_error(this->get("/vm/revert_snapshot/t1/" + uuid), 400, "name");
    HttpResponse unnamed = this->post("/vm/snapshot/t1/" + uuid);
    ASSERT_EQ(unnamed.status, 200) << "a snapshot without a name gets a timestamp";
    EXPECT_EQ(this->get("/vm/snapshot/t1/" + uuid).json()["num"], 2);
}

TYPED_TEST_P(Vm, BadRequestsSayWhatIsWrong) {
    auto uuid = this->create();
    this->expect_error(this->get("/vm/list/nosuch"), 404, "name");
    this->expect_error(this->get("/vm/start/t1/6f1c3e4a-8d2b-4c1e-9a7f-0b1c2d3e4f50"), 404, "uuid");
    this->expect_error(this->get("/vm/start/t1/not-a-uuid"), 400, "uuid");
    HttpResponse unknown = this->get("/vm/start/t1/" + uuid + "?colour=red");
    this->expect_error(unknown, 400, "colour");
    EXPECT_EQ(unknown.json()["code"], 998);
    this->expect_error(this->post("/vm/create/t1", R"({"vm_vcpus":0})"), 400, "vm_vcpus");
    this->expect_error(this->post("/vm/create/t1", R"({"vm_ram_mb":"lots"})"), 400, "vm_ram_mb");
    this->expect_error(this->post("/vm/create/nosuch", "{}"), 404, "name");
    this->expect_error(this->get("/vm/stop/t1/" + uuid + "?force=maybe"), 400, "force");
}

TYPED_TEST_P(Vm, StatisticsNeedAKnownDeviceAndARunningVm) {
    auto uuid = this->create();
    this->expect_error(this->get("/vm/blksize/t1/" + uuid), 400, "dev");
    this->expect_error(this->get("/vm/blksize/t1/" + uuid + "?dev=vdz"), 404, "dev");
    this->expect_error(this->get("/vm/netstat/t1/" + uuid + "?dev=52:54:00:00:00:01"), 409, "state");
    this->expect_error(this->get("/vm/ipaddr/t1/" + uuid), 409, "state");
    this->expect_error(this->get("/vm/ipaddr/t1/6f1c3e4a-8d2b-4c1e-9a7f-0b1c2d3e4f50"), 404, "uuid");
    ASSERT_EQ(this->get("/vm/start/t1/" + uuid).status, 200);
    this->expect_error(this->get("/vm/netstat/t1/" + uuid + "?dev=52:54:00:00:00:01"), 404, "mac");
    HttpResponse addrs = this->get("/vm/ipaddr/t1/" + uuid);
    ASSERT_EQ(addrs.status, 200) << addrs.body;
    EXPECT_EQ(addrs.json()["result"], "OK");
    this->expect_error(this->get("/vm/xml/t1/6f1c3e4a-8d2b-4c1e-9a7f-0b1c2d3e4f50"), 404, "uuid");
}

TYPED_TEST_P(Vm, IdempotencyKeyReturnsTheFirstResult) {
    HttpResponse first = this->post("/vm/create/t1", "{}", {"Idempotency-Key: job-42"});
    HttpResponse second = this->post("/vm/create/t1", "{}", {"Idempotency-Key: job-42"});
    ASSERT_EQ(first.status, 200);
    ASSERT_EQ(second.status, 200);
    EXPECT_EQ(first.json()["uuid"], second.json()["uuid"]);
    EXPECT_NE(this->post("/vm/create/t1", "{}", {"Idempotency-Key: job-43"}).json()["uuid"], first.json()["uuid"]);
    // A failed create does not use the key up.
    EXPECT_EQ(this->post("/vm/create/t1", R"({"vm_vcpus":"x"})", {"Idempotency-Key: job-44"}).status, 400);
    HttpResponse retried = this->post("/vm/create/t1", "{}", {"Idempotency-Key: job-44"});
    EXPECT_EQ(retried.status, 200) << retried.body;
}

TYPED_TEST_P(Vm, AVmBusyWithAnotherOperationAnswers409) {
    auto uuid = this->create();
    // Another daemon sharing the store holds the VM's lock (as during a long operation).
    SystemClock clock;
    auto store = store::SqliteStore::open(this->daemon_->data_dir() + "/kvmhub.db", clock);
    ASSERT_TRUE(store);
    auto lease = (*store)->grant_lease(std::chrono::seconds(60));
    ASSERT_TRUE(lease);
    ASSERT_TRUE((*store)->put("/locks/vm/t1/" + uuid, R"({"op":"setmem"})", *lease));
    HttpResponse busy = this->get("/vm/setmem/t1/" + uuid + "?vm_ram_mb=300");
    this->expect_error(busy, 409, "uuid");
    EXPECT_NE(busy.json()["desc"].get<std::string>().find("busy with setmem"), std::string::npos) << busy.body;
    ASSERT_TRUE((*store)->revoke_lease(*lease));
    EXPECT_EQ(this->get("/vm/setmem/t1/" + uuid + "?vm_ram_mb=300").status, 200);
}

REGISTER_TYPED_TEST_SUITE_P(Vm, CreateDefinesAStoppedVmFromTheHostTemplate, HostListHasCapacityAndGuests, LifecycleStartResetStopDelete, ChangesApplyToTheDefinition, SnapshotsCanBeTakenListedRevertedAndDeleted, BadRequestsSayWhatIsWrong, StatisticsNeedAKnownDeviceAndARunningVm,
                            IdempotencyKeyReturnsTheFirstResult, AVmBusyWithAnotherOperationAnswers409);

}  // namespace kvmhub::test
