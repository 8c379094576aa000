// The NoCloud seed of each VM: every meta template of the catalog (meta-data, user-data,
// network-config, and any an admin adds, e.g. vendor-data) rendered for the VM. Only the
// rendered text is stored (a few KB per VM), never an image; the cidata ISO is built from it
// on request.
//   /meta/<uuid>/context        {"host": "<name>", "context": {...}}: what the seed is rendered from
//   /meta/<uuid>/files/<name>   one rendered file, as the guest gets it
#pragma once

#include <functional>
#include <map>
#include <string>

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

class SeedService {
public:
    SeedService(store::Store& store, catalog::Catalog& catalog) : store_(store), catalog_(catalog) {}

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
    // One rendered file; NotFound when the VM or the file does not exist.
    Result<std::string> file(const std::string& uuid, const std::string& name);
    // Every rendered file by name, and the store revision of the newest (for an ETag).
    struct Files {
        std::map<std::string, std::string> files;
        std::int64_t revision = 0;
    };
    Result<Files> files(const std::string& uuid);
    // Removes the VM's seed (nothing to do when it has none).
    Status forget(const std::string& uuid);

private:
    store::Store& store_;
    catalog::Catalog& catalog_;
};

}  // namespace kvmhub::cloudinit
