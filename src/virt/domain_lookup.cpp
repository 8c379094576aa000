#include <array>
#include <cctype>

#include "virt/error.hpp"
#include "virt/ops.hpp"

namespace kvmhub::virt::ops {

bool is_uuid(std::string_view text) {
    // Only the canonical 8-4-4-4-12 form: it is what the API hands out and stores.
    if (text.size() != 36) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? text[i] != '-' : std::isxdigit(static_cast<unsigned char>(text[i])) == 0) return false;
    }
    return true;
}

Result<DomainPtr> find_domain(virConnectPtr conn, const HostRef& host, const std::string& uuid) {
    if (!is_uuid(uuid)) return fail(Errc::BadInput, "uuid", "'" + uuid + "' is not a UUID");
    DomainPtr dom(virDomainLookupByUUIDString(conn, uuid.c_str()));
    if (dom == nullptr) {
        Error err = last_error("uuid");
        if (err.code == Errc::NotFound) err.desc = "no VM " + uuid + " on host " + host.name;
        return tl::unexpected(std::move(err));
    }
    return dom;
}

Result<bool> is_active(virDomainPtr dom, const std::string& op) {
    int active = virDomainIsActive(dom);
    if (active < 0) return tl::unexpected(last_error(op));
    return active == 1;
}

Result<std::string> domain_xml(virDomainPtr dom, bool inactive, const std::string& op) {
    if (!inactive) {
        auto active = is_active(dom, op);
        if (!active) return tl::unexpected(active.error());
        inactive = !*active;
    }
    auto xml = take_string(virDomainGetXMLDesc(dom, inactive ? VIR_DOMAIN_XML_INACTIVE : 0));
    if (!xml) return tl::unexpected(last_error(op));
    return std::move(*xml);
}

Status require_running(virDomainPtr dom, const std::string& uuid, const std::string& op) {
    auto active = is_active(dom, op);
    if (!active) return tl::unexpected(active.error());
    if (!*active) return fail(Errc::Conflict, "state", "VM " + uuid + " is not running");
    return {};
}

const char* state_name(int state) {
    static constexpr std::array<const char*, 8> names{"NOSTATE",  "RUNNING", "BLOCKED", "PAUSED",
                                                      "SHUTDOWN", "SHUTOFF", "CRASHED", "SUSPEND"};
    return state >= 0 && state < static_cast<int>(names.size()) ? names[static_cast<std::size_t>(state)] : "NOSTATE";
}

}  // namespace kvmhub::virt::ops
