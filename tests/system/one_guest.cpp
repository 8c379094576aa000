#include "system/one_guest.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "support/vm_fixtures.hpp"
#include "system/system_support.hpp"

namespace kvmhub::test {

void OneGuest::setup(const std::string& name, DaemonOptions options) {
    name_ = name;
    ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);  // qemu runs as libvirt-qemu
    pool_ = "kvmhub-" + name + "-" + std::to_string(getpid());
    auto pool = virsh({"pool-create-as", pool_, "dir", "--target", dir_.path().string()});
    ASSERT_EQ(pool.exit_code, 0) << pool.output;
    daemon_ = std::make_unique<Daemon>(std::move(options));
    token_ = daemon_->login();
    auto tpl = http_request("PUT", daemon_->url() + "/conf/template/domain/testguest",
                            read_file(KVMHUB_SOURCE_DIR "/tests/system/testguest.tpl"), bearer(token_));
    ASSERT_EQ(tpl.status, 200) << tpl.body;
    auto added = post("/conf/host/", host_body("kvm1", "qemu:///system", "testguest").dump());
    ASSERT_EQ(added.status, 200) << added.body;
    auto vol = virsh({"vol-create-as", pool_, name + ".qcow2", "64M", "--format", "qcow2"});
    ASSERT_EQ(vol.exit_code, 0) << vol.output;
    nlohmann::json body = {{"vm_name", name},
                           {"vm_vcpus", 1},
                           {"vm_ram_mb", 256},
                           {"vm_graph", "vnc"},
                           {"vm_kernel", test_guest_dir() + "/vmlinuz"},
                           {"vm_initrd", test_guest_dir() + "/initrd.img"},
                           {"vm_disk", dir_.file(name + ".qcow2")},
                           {"vm_serial_log", serial_log()}};
    auto created = post("/vm/create/kvm1", body.dump());
    ASSERT_EQ(created.status, 200) << created.body;
    uuid_ = created.json().value("uuid", "");
}

OneGuest::~OneGuest() {
    if (!uuid_.empty()) {
        virsh({"destroy", uuid_});
        virsh({"undefine", uuid_});
    }
    daemon_.reset();
    if (!pool_.empty()) virsh({"pool-destroy", pool_});
}

std::string OneGuest::serial_log() const {
    return dir_.file(name_ + ".serial.log");
}

HttpResponse OneGuest::get(const std::string& path) const {
    return http_get(daemon_->url() + path, bearer(token_));
}

HttpResponse OneGuest::post(const std::string& path, const std::string& body) const {
    return http_post(daemon_->url() + path, body, bearer(token_));
}

bool OneGuest::wait_ready(std::chrono::seconds timeout) const {
    return eventually([&] { return read_file(serial_log()).find("kvmhub-test-guest: ready") != std::string::npos; },
                      timeout);
}

}  // namespace kvmhub::test
