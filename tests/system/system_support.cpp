#include "system/system_support.hpp"

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

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

void remove_vms_and_pool(const std::vector<std::string>& uuids, const std::string& pool) {
    for (const auto& uuid : uuids) {
        virsh({"destroy", uuid});
        virsh({"undefine", uuid});
    }
    auto vols = virsh({"vol-list", pool});
    std::istringstream lines(vols.output);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream words(line);
        std::string name;
        if (words >> name) virsh({"vol-delete", name, "--pool", pool});
    }
    virsh({"pool-destroy", pool});
    virsh({"pool-undefine", pool});
}

}  // namespace kvmhub::test
