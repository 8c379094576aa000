// The NoCloud seed of each VM: every meta template of the catalog (meta-data, user-data,
// network-config, and any an admin adds, e.g. vendor-data) rendered for the VM. Only the
// rendered text is stored (a few KB per VM), never an image; the cidata ISO is built from it
// on request.
// The metadata service reads seeds from memory: each VM's files are loaded from the store on
// the first fetch and kept until a change under /meta/<uuid>/ is committed (dropped at once by
// render/forget here, and through a store watch for changes made elsewhere).
//   /meta/<uuid>/context        {"host": "<name>", "context": {...}}: what the seed is rendered from
//   /meta/<uuid>/files/<name>   one rendered file, as the guest gets it
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "catalog/catalog.hpp"
#include "common/result.hpp"
#include "store/store.hpp"

namespace kvmhub::cloudinit {

inline constexpr std::string_view kMetaPrefix = "/meta/";

// Brings a VM's cloud-init inputs into the form the templates take, in place: vm_password
// becomes a SHA-512 crypt hash (the clear text goes no further), vm_dns ("a, b c" or a list)
// and vm_sshkey (one per line, or a list) become lists of strings; empty ones are removed.
Status normalize_inputs(nlohmann::json& vars);

// Checks a static address as the templates use it: vm_ipaddr an address with its prefix
// length, vm_gateway an address of the same family (only with vm_ipaddr), each vm_dns entry an
// address. `vars` is normalized (vm_dns a list); BadInput names the field.
Status check_static_address(const nlohmann::json& vars);

// A static address (the VM's or a NIC's) in NOCLOUD mode is refused, naming ISO mode:
// cloud-init 22.4's NoCloud-net fetches no network-config, and the address it reads from
// meta-data reaches the guest's ifupdown files but is not brought up on the first boot (the
// NIC is already up on DHCP: "ifup: interface ens3 already configured"). `context` is the VM's
// whole seed context.
Status check_seed_mode(const nlohmann::json& context);

// What one NIC of a VM gets in network-config, kept in the seed context by MAC under
// kNicSettings ({"<mac>": {"vm_ipaddr":..., "vm_gateway":..., "vm_dns":[...], "vm_interface":...}}):
// set by the NIC's attach body, dropped when it is detached.
inline constexpr const char* kNicSettings = "vm_nic_settings";

// The NICs as the meta templates see them (`vm_nics`), in the VM's order: for each MAC its
// own settings from kNicSettings; the first NIC without settings of its own takes the VM's
// vm_ipaddr/vm_gateway/vm_dns/vm_interface. Each entry: {"mac", "name" (a name to set, or ""),
// "ipaddr", "gateway", "dns" (list)}; no address means DHCP.
nlohmann::json nic_configs(const nlohmann::json& context, const std::vector<std::string>& macs);

// Every rendered file of one VM by name, and the store revision of the newest (for an ETag).
struct SeedFiles {
    std::map<std::string, std::string> files;
    std::int64_t revision = 0;
};

// One VM's seed as the metadata service serves it, shared read-only by the requests that use it.
class Seed {
public:
    explicit Seed(SeedFiles files) : files_(std::move(files)) {}
    const SeedFiles& files() const { return files_; }
    // The cidata ISO of these files, built at the first call (qemu reads an http CD-ROM in many
    // byte ranges; each is then a copy, not a new image).
    const Result<std::string>& iso() const;

private:
    SeedFiles files_;
    mutable std::once_flag iso_once_;
    mutable Result<std::string> iso_;
};

class SeedService {
public:
    // Watches the store's /meta/ prefix to keep the in-memory seeds right; when the watch cannot
    // be made, every fetch reads the store (logged).
    SeedService(store::Store& store, catalog::Catalog& catalog);
    ~SeedService();
    SeedService(const SeedService&) = delete;
    SeedService& operator=(const SeedService&) = delete;

    // Sees the rendered files (name -> text) before they are stored; its failure stores nothing.
    using BeforeStore = std::function<Status(const std::map<std::string, std::string>& files)>;

    // Renders every meta template with `context` (the VM's vm_* variables and the server's
    // values) and replaces the VM's seed in one transaction. A template that fails to render
    // changes nothing and is reported under "tpl"; so does a failing `before_store` (a copy of
    // the seed elsewhere, such as the cidata ISO volume in the host's pool, that must succeed).
    Status render(const std::string& host, const std::string& uuid, const nlohmann::json& context,
                  const BeforeStore& before_store = {});
    // The context the VM's seed was last rendered from; NotFound when the VM has no seed.
    Result<nlohmann::json> context(const std::string& uuid);
    // The VM's rendered files (from memory after the first call); NotFound when it has none.
    Result<std::shared_ptr<const Seed>> seed(const std::string& uuid);
    // Removes the VM's seed (nothing to do when it has none).
    Status forget(const std::string& uuid);

private:
    struct Cache;
    Result<SeedFiles> load(const std::string& uuid);

    store::Store& store_;
    catalog::Catalog& catalog_;
    std::unique_ptr<Cache> cache_;
};

}  // namespace kvmhub::cloudinit
