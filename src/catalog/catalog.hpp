// The catalog: KVM hosts and the devices enabled on them, gold images, ISOs, templates and
// the variables table. Records are JSON documents in the store (the shapes simplekvm's API
// returns), one key each, so a change to one host never rewrites the others:
//   /catalog/hosts/<host>               {"name","tpl","url","arch","ipaddr","sshport","sshuser"
//                                        [,"pool","pool_path","meta_iso","console_tunnel"]}
//   /catalog/devices/<host>/<device>    {"kvmhost","name","tpl","desc"}
//   /catalog/golds/<arch>/<gold>        {"name","arch","uri","size" (bytes),"desc"}
//   /catalog/isos/<iso>                 {"name","uri","desc"}
//   /catalog/vars                       {"<variable>":"<description>", ...}
//   /templates/<kind>/<name>            template source text (kind domain, device or meta)
//   /templates/action/<device>          the action script of device template <device> (bash)
// The service is split over catalog_hosts.cpp, catalog_images.cpp and catalog_templates.cpp.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "catalog/url_probe.hpp"
#include "common/config.hpp"
#include "common/result.hpp"
#include "store/store.hpp"
#include "tmpl/template.hpp"

namespace kvmhub::catalog {

inline constexpr std::string_view kCatalogPrefix = "/catalog/";
inline constexpr std::string_view kTemplatesPrefix = "/templates/";
// The ssh host keys pinned per host (console/host_keys.hpp); not catalog data (not in backups),
// but deleting a host forgets its pin.
inline constexpr std::string_view kHostKeysPrefix = "/ssh/hostkeys/";

// The host field meta_iso: where the CD-ROM of an ISO mode VM takes its cidata ISO from.
// url (the default): qemu on the host reads http://<META_SRV>/<uuid>/cidata.iso itself.
// pool: kvmhub uploads the ISO as a volume into the host's storage pool (hosts that cannot
// reach META_SRV), and uploads it again on every re-render.
inline constexpr std::string_view kMetaIsoUrl = "url";
inline constexpr std::string_view kMetaIsoPool = "pool";

// The variables a VM's meta templates read through `vm_nics`, the per-NIC list the server
// builds from them (cloudinit::nic_configs): listed, and counted as read, in their place.
inline constexpr std::string_view kNicVariables[] = {"vm_ipaddr", "vm_gateway", "vm_dns", "vm_interface"};

// Action is not a template language: it is the bash script run before a device is attached
// (simplekvm's `<device>.action`), named like the device template it belongs to.
enum class TemplateKind { Domain, Device, Meta, Action };

const char* kind_name(TemplateKind kind);
Result<TemplateKind> parse_kind(std::string_view text);
std::string template_key(TemplateKind kind, std::string_view name);

// Names a template may have: device templates (and their actions) are "<disk|net|cdrom>.<name>".
Status check_template_name(TemplateKind kind, std::string_view name);
// What an action script must be: non-blank text.
Status check_action_script(std::string_view source);

class Catalog {
public:
    Catalog(store::Store& store, const Config& config, UrlProbe& probe);

    // ---- hosts (catalog_hosts.cpp) ----
    // Adds or replaces a host; every "<device template>":"on" in the body enables that device
    // on it (the previous device list is replaced). Returns the host name.
    Result<std::string> put_host(const nlohmann::json& body);
    // Removes the host and its device list.
    Status delete_host(const std::string& name);
    Result<nlohmann::json> host(const std::string& name);
    Result<std::vector<nlohmann::json>> hosts();
    // Devices enabled on `host` (all hosts when empty).
    Result<std::vector<nlohmann::json>> devices(const std::string& host);
    // /tpl/host/: every host with the variables its domain and meta templates read.
    Result<nlohmann::json> host_view();
    // /tpl/device/[host]: enabled devices with their type and variables.
    Result<nlohmann::json> device_view(const std::string& host);
    // Of `names`, those that no template a VM on `host` renders reads (its domain template,
    // the meta templates, the devices enabled on it), in order.
    Result<std::vector<std::string>> unread_variables(const std::string& host, const std::vector<std::string>& names);

    // ---- gold images and ISOs (catalog_images.cpp) ----
    // size is in GiB (number or numeric string); the image must be reachable and no bigger.
    Status put_gold(const nlohmann::json& body);
    Status delete_gold(const std::string& name, const std::string& arch);
    // Golds of `arch` (all when empty), with the blank "data disk" entry per architecture.
    Result<std::vector<nlohmann::json>> golds(const std::string& arch);
    Status put_iso(const nlohmann::json& body);
    Status delete_iso(const std::string& name);
    // ISOs, with the blank entry that stands for the VM's own cidata ISO.
    Result<std::vector<nlohmann::json>> isos();

    // ---- templates and variables (catalog_templates.cpp) ----
    Result<std::string> template_source(TemplateKind kind, const std::string& name);
    // Parses first; a broken template is refused with the parse error and nothing is stored.
    // An action is refused unless its device template exists (and when empty or not text).
    Status put_template(TemplateKind kind, const std::string& name, const std::string& source);
    // Refused while a host uses the domain template or has the device enabled. Deleting a device
    // template deletes its action too; an action alone can always be deleted.
    Status delete_template(TemplateKind kind, const std::string& name);
    Result<std::vector<std::string>> template_names(TemplateKind kind);
    // Parsed, cached while the stored text does not change.
    Result<std::shared_ptr<const tmpl::Template>> parsed_template(TemplateKind kind, const std::string& name);
    // {"<device template>":"<description>"} for /conf/devices/.
    Result<nlohmann::json> device_descriptions();
    // The action script of device template `device`, or nullopt when it has none.
    Result<std::optional<std::string>> action_script(const std::string& device);
    // The variables table {"var":"description"}.
    Result<nlohmann::json> variables_table();

    // Checks one stored record, for restore: the key decides the kind of record.
    Status validate_record(const std::string& key, const std::string& value);

private:
    // {"var":"description"} for `variables`, from the variables table `table`.
    static nlohmann::json describe(const nlohmann::json& table, const std::vector<std::string>& variables);
    Result<std::vector<std::string>> template_variables(TemplateKind kind, const std::string& name);
    Status put_action(const std::string& device, const std::string& source);
    Result<nlohmann::json> read_json(const std::string& key, const std::string& what);
    Result<std::vector<nlohmann::json>> list_json(const std::string& prefix);
    // Size in bytes of an image URI (http(s), relative to `server`, or file:// under `folder`).
    Result<std::uint64_t> image_size(const std::string& uri, const std::string& server, const std::string& folder,
                                     const std::string& field);

    store::Store& store_;
    const Config& config_;
    UrlProbe& probe_;

    struct Cached {
        std::int64_t revision = 0;
        std::shared_ptr<const tmpl::Template> parsed;
    };
    std::mutex cache_mutex_;
    std::map<std::string, Cached, std::less<>> cache_;  // by store key
};

}  // namespace kvmhub::catalog
