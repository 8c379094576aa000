// Faults of the real libvirtd under a running kvmhubd: the daemon restarted (kvmhubd reconnects
// by itself), and a libvirtd that stops answering mid-operation (SIGSTOP) while a second client
// acts on the same VM (409, not a second change).
#include <signal.h>

#include <fstream>
#include <future>

#include <gtest/gtest.h>

#include "common/clock.hpp"
#include "store/sqlite_store.hpp"
#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/skip.hpp"
#include "support/temp_dir.hpp"
#include "support/vm_fixtures.hpp"
#include "system/system_support.hpp"

namespace kvmhub::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Resumes a stopped libvirtd however the test ends.
class Resume {
public:
    explicit Resume(pid_t pid) : pid_(pid) {}
    ~Resume() { kill(pid_, SIGCONT); }
    Resume(const Resume&) = delete;
    Resume& operator=(const Resume&) = delete;

private:
    pid_t pid_;
};

class LibvirtdFaults : public ::testing::Test {
protected:
    void SetUp() override {
        // Signalling or restarting a libvirtd these tests did not start is not theirs to do.
        if (libvirtd_pid() < 0) KVMHUB_SKIP(ForeignLibvirtd);
        std::ofstream(dir_.file("node.xml")) << "<node/>\n";
        add_host("kvm1", "qemu:///system");
        add_host("node", "test+unix://" + dir_.file("node.xml"));
    }

    void add_host(const std::string& name, const std::string& url) {
        json host = host_body(name, url);
        auto r = http_post(daemon_.url() + "/conf/host/", host.dump(), bearer(token_));
        ASSERT_EQ(r.status, 200) << r.body;
    }
    HttpResponse get(const std::string& path) { return http_get(daemon_.url() + path, bearer(token_)); }
    HttpResponse post(const std::string& path, const std::string& body) {
        return http_post(daemon_.url() + path, body, bearer(token_));
    }
    json cached(const std::string& uuid) { return find_cached(get("/vm/list/").json(), uuid); }

    TempDir dir_;
    Daemon daemon_{{.env = {{"KVMHUB_LIBVIRT_RESYNC_INTERVAL", "3600"}, {"KVMHUB_LIBVIRT_ALLOW_TEST_FILES", "true"}}}};
    std::string token_ = daemon_.login();
};

TEST_F(LibvirtdFaults, KvmhubdCarriesOnAfterLibvirtdRestarts) {
    ASSERT_EQ(get("/vm/list/kvm1").status, 200);
    ASSERT_EQ(get("/vm/list/node").status, 200);

    auto restarted = restart_libvirtd();
    ASSERT_EQ(restarted.exit_code, 0) << restarted.output;

    // The very next calls succeed: kvmhubd reopens its connections without being restarted.
    auto listed = get("/vm/list/kvm1");
    EXPECT_EQ(listed.status, 200) << listed.body;
    EXPECT_EQ(get("/vm/list/node").status, 200);
    auto created = post("/vm/create/kvm1", R"({"vm_ram_mb":128})");
    ASSERT_EQ(created.status, 200) << created.body;
    const std::string uuid = created.json()["uuid"];

    // Events flow on the new connection: a VM undefined with virsh leaves the cache.
    ASSERT_TRUE(eventually([&] { return !cached(uuid).empty(); }, 10s));
    auto undefined = virsh({"undefine", uuid});
    ASSERT_EQ(undefined.exit_code, 0) << undefined.output;
    EXPECT_TRUE(eventually([&] { return cached(uuid).empty(); }, 10s)) << cached(uuid).dump();
}

TEST_F(LibvirtdFaults, TwoConcurrentSetmemOnOneVmGiveOne409) {
    auto created = post("/vm/create/node", R"({"vm_ram_mb":256,"vm_ram_mb_max":1024})");
    ASSERT_EQ(created.status, 200) << created.body;
    const std::string uuid = created.json()["uuid"];
    SystemClock clock;
    auto store = store::SqliteStore::open(daemon_.data_dir() + "/kvmhub.db", clock);
    ASSERT_TRUE(store);
    const std::string lock = "/locks/vm/node/" + uuid;

    // The first setmem takes the VM's lock, then hangs in libvirt: libvirtd is stopped.
    const pid_t libvirtd = libvirtd_pid();
    ASSERT_EQ(kill(libvirtd, SIGSTOP), 0);
    std::future<HttpResponse> first;
    {
        Resume resume(libvirtd);
        first = std::async(std::launch::async, [&] { return get("/vm/setmem/node/" + uuid + "?vm_ram_mb=300"); });
        ASSERT_TRUE(eventually(
            [&] {
                auto held = (*store)->get(lock);
                return held && *held;
            },
            10s))
            << "the first setmem never took the VM's lock";
        auto second = get("/vm/setmem/node/" + uuid + "?vm_ram_mb=400");
        EXPECT_EQ(second.status, 409) << second.body;
        EXPECT_EQ(second.json()["name"], "uuid");
        EXPECT_NE(second.json()["desc"].get<std::string>().find("busy with setmem"), std::string::npos)
            << second.body;
    }
    auto done = first.get();
    EXPECT_EQ(done.status, 200) << done.body;
    auto held = (*store)->get(lock);
    ASSERT_TRUE(held);
    EXPECT_FALSE(*held) << "the lock outlived the operation";
    EXPECT_EQ(get("/vm/list/node/" + uuid).json()["guest"]["curmem"], 300 * 1024) << "only the first setmem applied";
}

}  // namespace
}  // namespace kvmhub::test
