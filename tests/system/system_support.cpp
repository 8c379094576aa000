#include "system/system_support.hpp"

#include <signal.h>
#include <unistd.h>

#include <fstream>

namespace kvmhub::test {

CommandResult virsh(const std::vector<std::string>& args, const std::string& uri) {
    std::vector<std::string> argv{"timeout", "60", "virsh", "-q", "-c", uri};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
}

pid_t libvirtd_pid() {
    std::ifstream in(KVMHUB_TEST_LIBVIRTD_DIR "/libvirtd.pid");
    pid_t pid = -1;
    if (!(in >> pid) || kill(pid, 0) != 0) return -1;
    return pid;
}

CommandResult restart_libvirtd() {
    return run_command({KVMHUB_SOURCE_DIR "/tests/system/libvirtd.sh", "restart", KVMHUB_TEST_LIBVIRTD_DIR});
}

std::string test_guest_dir() {
    return KVMHUB_TEST_GUEST_DIR;
}

}  // namespace kvmhub::test
