// What the system tests share: the libvirtd of the `system` ctest fixture
// (tests/system/libvirtd.sh), virsh against it, and the tiny test guest.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "support/daemon.hpp"

namespace kvmhub::test {

// `virsh -q -c URI ARGS...` (qemu:///system unless given), bounded to 60 s.
CommandResult virsh(const std::vector<std::string>& args, const std::string& uri = "qemu:///system");

// The pid of the libvirtd the fixture started; -1 when the tests use one that was already
// running (the tests never stop or signal a daemon they did not start).
pid_t libvirtd_pid();
// A loopback port that was free a moment ago (for a daemon whose address must be known before
// it starts, e.g. to be its own META_SRV).
int free_port();
// The whole file ("" when it cannot be read).
std::string read_file(const std::string& path);
// Stops and starts the fixture's libvirtd (tests/system/libvirtd.sh restart).
CommandResult restart_libvirtd();

// scripts/test-guest.sh's output folder (vmlinuz, initrd.img), built by the fixture.
std::string test_guest_dir();

// Polls `done` every 100 ms until it holds or `timeout` passes; returns its last answer.
bool eventually(const std::function<bool()>& done, std::chrono::seconds timeout);

}  // namespace kvmhub::test
