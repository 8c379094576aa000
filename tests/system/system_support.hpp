// What the system tests share: the libvirtd of the `system` ctest fixture
// (tests/system/libvirtd.sh), virsh against it, and the tiny test guest.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "support/daemon.hpp"
#include "support/local.hpp"

namespace kvmhub::test {

// `virsh -q -c URI ARGS...` (qemu:///system unless given), bounded to 60 s.
CommandResult virsh(const std::vector<std::string>& args, const std::string& uri = "qemu:///system");

// The pid of the libvirtd the fixture started; -1 when the tests use one that was already
// running (the tests never stop or signal a daemon they did not start).
pid_t libvirtd_pid();
// Stops and starts the fixture's libvirtd (tests/system/libvirtd.sh restart).
CommandResult restart_libvirtd();

// Destroys and undefines the VMs `uuids`, then deletes every volume of `pool` and the pool:
// what a suite that made them leaves behind, and only that.
void remove_vms_and_pool(const std::vector<std::string>& uuids, const std::string& pool);

// scripts/test-guest.sh's output folder (vmlinuz, initrd.img), built by the fixture.
std::string test_guest_dir();

}  // namespace kvmhub::test
