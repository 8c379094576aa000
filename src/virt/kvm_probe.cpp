#include "virt/kvm_probe.hpp"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>

#include "common/log.hpp"

namespace kvmhub::virt {
namespace {

constexpr int kKvmApiVersion = 12;
constexpr auto kCreateVmBudget = std::chrono::seconds(2);

// A guest sees vmx/svm only when the host passes hardware virtualization through; without
// it, /dev/kvm may still exist (software or paravirtual KVM) and then real guests hang.
bool cpu_has_virtualization() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        if (!line.starts_with("flags")) continue;
        std::istringstream flags(line.substr(line.find(':') + 1));
        std::string flag;
        while (flags >> flag) {
            if (flag == "vmx" || flag == "svm") return true;
        }
        return false;
    }
    return false;
}

// Runs in its own thread: a broken KVM can block in the kernel, and nobody may wait for it.
bool kvm_creates_vm() {
    int kvm = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) return false;
    bool ok = ::ioctl(kvm, KVM_GET_API_VERSION, 0) == kKvmApiVersion;
    if (ok) {
        int vm = ::ioctl(kvm, KVM_CREATE_VM, 0);
        ok = vm >= 0;
        if (vm >= 0) ::close(vm);
    }
    ::close(kvm);
    return ok;
}

bool probe() {
    auto log = log::get("virt");
    if (!cpu_has_virtualization()) {
        log->info("kvm unusable, using TCG reason=\"no vmx/svm cpu flag\"");
        return false;
    }
    // The promise is shared with the thread, so a probe that returns after we gave up
    // writes into memory that is still alive.
    auto result = std::make_shared<std::promise<bool>>();
    auto answer = result->get_future();
    std::thread([result] { result->set_value(kvm_creates_vm()); }).detach();
    if (answer.wait_for(kCreateVmBudget) != std::future_status::ready) {
        log->warn("kvm unusable, using TCG reason=\"KVM_CREATE_VM did not return within 2 s\"");
        return false;
    }
    bool usable = answer.get();
    log->info("kvm probe finished usable={}", usable);
    return usable;
}

}  // namespace

bool local_kvm_usable() {
    static const bool usable = probe();
    return usable;
}

}  // namespace kvmhub::virt
