#include "virt/probe.hpp"

#include <mutex>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "common/cfree.hpp"

namespace kvmhub::virt {

void quiet_libvirt_errors() {
    static std::once_flag once;
    std::call_once(once, [] { virSetErrorFunc(nullptr, [](void*, virErrorPtr) {}); });
}

bool connection_answers(const std::string& uri) {
    quiet_libvirt_errors();
    CPtr<virConnect, virConnectClose> conn(virConnectOpenReadOnly(uri.c_str()));
    return conn != nullptr;
}

}  // namespace kvmhub::virt
