// Backup and restore of the configuration keys as a .tar.gz, built and read entirely in memory.
//
// Archive layout: `manifest.json` first, then one regular file per store key, sorted by key; the
// member path is the key without its leading '/', the content the exact value bytes. A restore
// reads and checks the whole archive before it touches the store, then applies it in one
// transaction, so a hostile or broken archive changes nothing.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "store/store.hpp"

namespace kvmhub::catalog {

inline constexpr std::string_view kBackupFormat = "kvmhub-backup";
inline constexpr int kBackupVersion = 1;  // the newest manifest version this build reads and writes
inline constexpr std::string_view kManifestName = "manifest.json";

struct BackupSpec {
    // Store key prefixes included, e.g. {"/catalog/", "/templates/"}; each must start with '/'.
    std::vector<std::string> prefixes;
    // Checks one member before anything is applied; empty accepts everything.
    std::function<Status(const std::string& key, const std::string& value)> validate;
    std::size_t max_member_bytes = 1 << 20;
    std::size_t max_total_bytes = 64 << 20;  // uncompressed, all members together
    std::size_t max_members = 100000;
};

// The .tar.gz bytes of every key under spec.prefixes. Fails (Internal) on a key that could not be
// restored from the archive, and (TooLarge) past the spec's caps, rather than write a backup that
// restore would refuse.
Result<std::string> make_backup(store::Store& store, const BackupSpec& spec, const Clock& clock);

struct RestoreReport {
    std::size_t total = 0;          // members other than the manifest and directories
    std::size_t apply = 0;          // keys written
    std::vector<std::string> skip;  // members not restored, each "<member>: <reason>"
};

// Restores `archive` (as made by make_backup, or a simplekvm configuration backup: see
// simplekvm_backup.hpp; its files are converted to keys and then checked like ours). With `replace`, keys under
// spec.prefixes that the archive lacks are deleted; otherwise they are kept. Members outside the prefixes are reported
// in `skip`. Errors: BadInput (not a backup, bad manifest, unsafe or duplicate member, validate() refused), TooLarge (a
// cap of `spec`), or the store's own error; in every case nothing changed.
Result<RestoreReport> restore_backup(store::Store& store, const BackupSpec& spec, std::string_view archive,
                                     bool replace);

}  // namespace kvmhub::catalog
