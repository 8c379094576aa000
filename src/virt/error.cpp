#include "virt/error.hpp"

#include <libvirt/virterror.h>

namespace kvmhub::virt {
namespace {

Errc classify(const virError& e) {
    std::string_view message = e.message != nullptr ? e.message : "";
    switch (e.code) {
        case VIR_ERR_NO_DOMAIN:
        case VIR_ERR_NO_DOMAIN_SNAPSHOT:
        case VIR_ERR_NO_STORAGE_VOL:
        case VIR_ERR_NO_STORAGE_POOL:
            return Errc::NotFound;
        case VIR_ERR_OPERATION_INVALID:
        case VIR_ERR_DOM_EXIST:
            return Errc::Conflict;
        case VIR_ERR_OPERATION_FAILED:
            return message.find("exists") != std::string_view::npos ? Errc::Conflict : Errc::HostError;
        case VIR_ERR_NO_CONNECT:
        case VIR_ERR_RPC:
        case VIR_ERR_AUTH_FAILED:
        case VIR_ERR_AUTH_CANCELLED:
        case VIR_ERR_AUTH_UNAVAILABLE:
            return Errc::HostUnavailable;
        case VIR_ERR_SYSTEM_ERROR:
            // A system error from the transport means the host is out of reach; from a
            // hypervisor driver it is the host failing at something it tried.
            return e.domain == VIR_FROM_REMOTE || e.domain == VIR_FROM_RPC ? Errc::HostUnavailable : Errc::HostError;
        case VIR_ERR_OPERATION_TIMEOUT:
            return Errc::HostTimeout;
        case VIR_ERR_XML_ERROR:
        case VIR_ERR_XML_DETAIL:
        case VIR_ERR_INVALID_ARG:
        case VIR_ERR_CONFIG_UNSUPPORTED:
            return Errc::BadInput;
        default:
            return Errc::HostError;
    }
}

}  // namespace

Error last_error(std::string where) {
    const virError* e = virGetLastError();
    if (e == nullptr || e->code == VIR_ERR_OK) {
        return Error{Errc::HostError, std::move(where), "libvirt failed without saying why", kLegacyHypervisorError};
    }
    Error out{classify(*e), std::move(where), e->message != nullptr ? e->message : "libvirt error",
              kLegacyHypervisorError};
    virResetLastError();
    return out;
}

int last_error_number() {
    const virError* e = virGetLastError();
    return e != nullptr ? e->code : 0;
}

bool is_unsupported(int number) {
    return number == VIR_ERR_NO_SUPPORT || number == VIR_ERR_ARGUMENT_UNSUPPORTED || number == VIR_ERR_INVALID_ARG ||
           number == VIR_ERR_OPERATION_UNSUPPORTED;
}

}  // namespace kvmhub::virt
