// One tiny test guest for a suite: its own kvmhubd with host "kvm1" on qemu:///system (domain
// template tests/system/testguest.tpl), a storage pool of its own for the disk, and the VM
// defined (not started) with a VNC display and a serial console logged to a file. The
// destructor destroys and undefines the VM, stops the daemon and removes the pool.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/temp_dir.hpp"

namespace kvmhub::test {

class OneGuest {
public:
    OneGuest() = default;
    ~OneGuest();
    OneGuest(const OneGuest&) = delete;
    OneGuest& operator=(const OneGuest&) = delete;

    // Makes everything; `name` names the pool, disk and VM. A failure is a gtest failure, and
    // uuid() stays empty.
    void setup(const std::string& name, DaemonOptions options = {});

    const std::string& uuid() const { return uuid_; }
    Daemon& daemon() { return *daemon_; }
    const std::string& token() const { return token_; }
    std::string serial_log() const;
    HttpResponse get(const std::string& path) const;
    HttpResponse post(const std::string& path, const std::string& body) const;
    // Waits until the guest's serial log says it booted.
    bool wait_ready(std::chrono::seconds timeout = std::chrono::seconds(180)) const;

private:
    TempDir dir_;
    std::string name_;
    std::string pool_;
    std::unique_ptr<Daemon> daemon_;
    std::string token_;
    std::string uuid_;
};

}  // namespace kvmhub::test
