#include "catalog/backup.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <array>
#include <cerrno>
#include <ctime>
#include <map>
#include <new>
#include <optional>
#include <unordered_set>
#include <utility>

#include <nlohmann/json.hpp>

#include "catalog/simplekvm_backup.hpp"
#include "common/cfree.hpp"

namespace kvmhub::catalog {

namespace {

using WritePtr = CPtr<archive, archive_write_free>;
using ReadPtr = CPtr<archive, archive_read_free>;
using EntryPtr = CPtr<archive_entry, archive_entry_free>;

constexpr std::size_t kMaxPathBytes = 4096;
constexpr std::size_t kMaxManifestBytes = 64 << 10;

std::string lib_error(archive* a) {
    const char* text = archive_error_string(a);
    return text != nullptr ? text : "unknown libarchive error";
}

tl::unexpected<Error> not_a_backup(const std::string& why) {
    return fail(Errc::BadInput, "archive", "not a kvmhub backup: " + why);
}

// Why `path` may not name a member, or empty when it may. The same rule applies when writing, so
// that every backup can be restored, and when reading, where it keeps keys inside the prefixes.
std::string unsafe_path_reason(std::string_view path) {
    if (path.empty()) return "empty path";
    if (path.size() > kMaxPathBytes) return "path longer than 4096 bytes";
    if (path.front() == '/') return "absolute path";
    if (path.find('\0') != std::string_view::npos) return "NUL byte in path";
    if (path.find('\\') != std::string_view::npos) return "backslash in path";
    std::size_t start = 0;
    for (;;) {
        const std::size_t slash = path.find('/', start);
        const std::string_view part = path.substr(start, slash == std::string_view::npos ? slash : slash - start);
        if (part.empty()) return "empty path component";
        if (part == "..") return "'..' path component";
        if (part == ".") return "'.' path component";
        if (slash == std::string_view::npos) return {};
        start = slash + 1;
    }
}

Status check_spec(const BackupSpec& spec) {
    for (const std::string& prefix : spec.prefixes) {
        if (prefix.empty() || prefix.front() != '/') {
            return fail(Errc::Internal, "backup", "backup prefix '" + prefix + "' must start with '/'");
        }
    }
    return {};
}

bool under_prefixes(std::string_view key, const std::vector<std::string>& prefixes) {
    for (const std::string& prefix : prefixes) {
        if (key.starts_with(prefix)) return true;
    }
    return false;
}

std::string iso_utc(std::int64_t seconds) {
    const std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::array<char, 32> text{};
    const std::size_t n = std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return std::string(text.data(), n);
}

// libarchive's output sink. It must not throw through C, so an allocation failure becomes an
// archive error.
la_ssize_t append_output(archive* a, void* client, const void* buffer, std::size_t length) {
    try {
        static_cast<std::string*>(client)->append(static_cast<const char*>(buffer), length);
        return static_cast<la_ssize_t>(length);
    } catch (const std::bad_alloc&) {
        archive_set_error(a, ENOMEM, "out of memory while building the backup");
        return -1;
    }
}

Status write_member(archive* a, archive_entry* entry, const std::string& name, std::string_view data,
                    std::int64_t mtime) {
    archive_entry_clear(entry);
    archive_entry_copy_pathname(entry, name.c_str());
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0644);
    archive_entry_set_size(entry, static_cast<la_int64_t>(data.size()));
    archive_entry_set_mtime(entry, mtime, 0);
    archive_entry_set_uid(entry, 0);
    archive_entry_set_gid(entry, 0);
    if (archive_write_header(a, entry) != ARCHIVE_OK) {
        return fail(Errc::Internal, name, "cannot write the backup member: " + lib_error(a));
    }
    while (!data.empty()) {
        const la_ssize_t n = archive_write_data(a, data.data(), data.size());
        if (n <= 0) return fail(Errc::Internal, name, "cannot write the backup member: " + lib_error(a));
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
}

// Every key under the prefixes, once each even when prefixes overlap, checked against the caps
// restore applies.
Result<std::map<std::string, std::string>> collect_keys(store::Store& store, const BackupSpec& spec) {
    std::map<std::string, std::string> keys;
    std::size_t total = 0;
    for (const std::string& prefix : spec.prefixes) {
        auto listed = store.list(prefix);
        if (!listed) return tl::unexpected(listed.error());
        for (store::KeyValue& kv : *listed) {
            if (keys.contains(kv.key)) continue;
            const std::string member = kv.key.substr(1);
            if (const std::string why = unsafe_path_reason(member); !why.empty() || member == kManifestName) {
                return fail(Errc::Internal, kv.key,
                            "key cannot be stored in a backup: " + (why.empty() ? "reserved name" : why));
            }
            if (kv.value.size() > spec.max_member_bytes) {
                return fail(Errc::TooLarge, kv.key,
                            "value larger than " + std::to_string(spec.max_member_bytes) + " bytes");
            }
            total += kv.value.size();
            if (total > spec.max_total_bytes || keys.size() >= spec.max_members) {
                return fail(Errc::TooLarge, "backup", "more configuration than a backup may hold");
            }
            keys.emplace(std::move(kv.key), std::move(kv.value));
        }
    }
    return keys;
}

struct Member {
    std::string name;
    std::string data;
};

struct Archive {
    std::vector<Member> members;
    bool simplekvm = false;  // a simplekvm backup: no manifest, DATA_DIR files (simplekvm_backup.hpp)
};

// simplekvm's backups are made by tar inside its DATA_DIR: names may start with "./".
std::string_view without_dot_slash(std::string_view name) {
    while (name.starts_with("./")) name.remove_prefix(2);
    return name;
}

// The checked manifest: the number of keys it announces.
Result<std::size_t> parse_manifest(const std::string& text) {
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    auto bad = [](const std::string& why) {
        return fail(Errc::BadInput, std::string(kManifestName), std::string(kManifestName) + ": " + why);
    };
    if (!j.is_object()) return bad("not a JSON object");
    const auto format = j.find("format");
    if (format == j.end() || !format->is_string() || format->get_ref<const std::string&>() != kBackupFormat) {
        return bad("format is not \"" + std::string(kBackupFormat) + "\"");
    }
    const auto version = j.find("version");
    if (version == j.end() || !version->is_number_integer() || version->get<std::int64_t>() < 1) {
        return bad("version must be a positive integer");
    }
    if (version->get<std::int64_t>() > kBackupVersion) {
        return bad("version " + std::to_string(version->get<std::int64_t>()) + " is newer than this kvmhub reads (" +
                   std::to_string(kBackupVersion) + ")");
    }
    const auto keys = j.find("keys");
    if (keys == j.end() || !keys->is_number_unsigned()) return bad("keys must be a count");
    return keys->get<std::size_t>();
}

// Reads one member's bytes, counting them rather than trusting the header.
Result<std::string> read_data(archive* a, const std::string& name, std::size_t max_bytes, std::size_t& total,
                              std::size_t max_total) {
    std::string data;
    std::array<char, 64 << 10> chunk;
    for (;;) {
        const la_ssize_t n = archive_read_data(a, chunk.data(), chunk.size());
        if (n == 0) return data;
        if (n < 0) return not_a_backup(name + ": " + lib_error(a));
        const auto size = static_cast<std::size_t>(n);
        if (data.size() + size > max_bytes) {
            return fail(Errc::TooLarge, name, name + ": larger than " + std::to_string(max_bytes) + " bytes");
        }
        total += size;
        if (total > max_total) {
            return fail(Errc::TooLarge, "archive", "backup larger than " + std::to_string(max_total) + " bytes");
        }
        data.append(chunk.data(), size);
    }
}

const char* non_regular_kind(archive_entry* entry) {
    if (archive_entry_hardlink(entry) != nullptr) return "hard link";
    switch (archive_entry_filetype(entry)) {
        case AE_IFREG:
            return nullptr;
        case AE_IFLNK:
            return "symbolic link";
        case AE_IFCHR:
        case AE_IFBLK:
            return "device";
        case AE_IFIFO:
            return "fifo";
        case AE_IFSOCK:
            return "socket";
        default:
            return "not a regular file";
    }
}

// The whole archive, checked: every member but the manifest and directories, in archive order.
// An archive whose first member is a simplekvm name instead of the manifest is read as a
// simplekvm backup.
Result<Archive> read_archive(std::string_view bytes, const BackupSpec& spec) {
    if (bytes.empty()) return not_a_backup("empty input");
    ReadPtr a(archive_read_new());
    if (!a) return fail(Errc::Internal, "backup", "cannot allocate an archive reader");
    archive_read_support_filter_gzip(a.get());
    archive_read_support_format_tar(a.get());
    if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) {
        return not_a_backup(lib_error(a.get()));
    }
    Archive out;
    std::vector<Member>& members = out.members;
    std::unordered_set<std::string> names{std::string(kManifestName)};
    std::optional<std::size_t> announced;
    std::size_t entries = 0;
    std::size_t total = 0;
    for (;;) {
        archive_entry* entry = nullptr;
        const int rc = archive_read_next_header(a.get(), &entry);
        if (rc == ARCHIVE_EOF) break;
        if (rc != ARCHIVE_OK) return not_a_backup(lib_error(a.get()));
        // Only gzip is enabled, but libarchive reads uncompressed input without any filter.
        if (archive_filter_count(a.get()) != 2 || archive_filter_code(a.get(), 0) != ARCHIVE_FILTER_GZIP) {
            return not_a_backup("not a single gzip-compressed tar");
        }
        if (++entries > spec.max_members + 1) {
            return fail(Errc::TooLarge, "archive", "more than " + std::to_string(spec.max_members) + " members");
        }
        const char* raw_name = archive_entry_pathname(entry);
        if (raw_name == nullptr) return fail(Errc::BadInput, "archive", "a member name cannot be read");
        std::string name = raw_name;
        if (!announced && !out.simplekvm && name != kManifestName) {
            std::string_view path = without_dot_slash(name);
            if (path.ends_with('/')) path.remove_suffix(1);
            out.simplekvm = path.empty() || path == "." || is_simplekvm_path(path);
        }
        if (out.simplekvm) {
            name = std::string(without_dot_slash(name));
            if (name.empty() || name == "." || name == "./") continue;
        }
        const bool directory = archive_entry_filetype(entry) == AE_IFDIR && archive_entry_hardlink(entry) == nullptr;
        const std::string_view path = directory && name.ends_with('/')
                                          ? std::string_view(name).substr(0, name.size() - 1)
                                          : std::string_view(name);
        if (const std::string why = unsafe_path_reason(path); !why.empty()) {
            return fail(Errc::BadInput, name, name + ": " + why);
        }
        if (!announced && !out.simplekvm && name != kManifestName) {
            return fail(Errc::BadInput, std::string(kManifestName),
                        std::string(kManifestName) + ": missing, it must be the first member");
        }
        if (directory) continue;
        if (const char* kind = non_regular_kind(entry)) return fail(Errc::BadInput, name, name + ": " + kind);
        const std::size_t cap = announced || out.simplekvm ? spec.max_member_bytes : kMaxManifestBytes;
        if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > static_cast<la_int64_t>(cap)) {
            return fail(Errc::TooLarge, name, name + ": larger than " + std::to_string(cap) + " bytes");
        }
        auto data = read_data(a.get(), name, cap, total, spec.max_total_bytes);
        if (!data) return tl::unexpected(data.error());
        if (!announced && !out.simplekvm) {
            auto keys = parse_manifest(*data);
            if (!keys) return tl::unexpected(keys.error());
            announced = *keys;
            continue;
        }
        if (!names.insert(name).second) return fail(Errc::BadInput, name, name + ": duplicate member");
        members.push_back(Member{std::move(name), std::move(*data)});
    }
    if (out.simplekvm) {
        if (members.empty()) return not_a_backup("a simplekvm backup without files");
        return out;
    }
    if (!announced) return fail(Errc::BadInput, std::string(kManifestName), "manifest.json: missing");
    // Members dropped from a re-packed archive pass every gzip and tar check; the count does not.
    if (*announced != members.size()) {
        return fail(Errc::BadInput, std::string(kManifestName),
                    "manifest.json: lists " + std::to_string(*announced) + " keys, the archive holds " +
                        std::to_string(members.size()));
    }
    return out;
}

}  // namespace

Result<std::string> make_backup(store::Store& store, const BackupSpec& spec, const Clock& clock) {
    if (auto ok = check_spec(spec); !ok) return tl::unexpected(ok.error());
    auto keys = collect_keys(store, spec);
    if (!keys) return tl::unexpected(keys.error());

    const std::int64_t now = clock.now_seconds();
    const nlohmann::json manifest = {{"format", kBackupFormat}, {"version", kBackupVersion},
                                     {"created", iso_utc(now)}, {"kvmhub", KVMHUB_VERSION},
                                     {"keys", keys->size()},    {"prefixes", spec.prefixes}};

    std::string out;
    WritePtr a(archive_write_new());
    EntryPtr entry(archive_entry_new());
    if (!a || !entry) return fail(Errc::Internal, "backup", "cannot allocate an archive writer");
    // Binary header charset: key bytes go into the archive as they are, whatever the locale.
    if (archive_write_add_filter_gzip(a.get()) != ARCHIVE_OK ||
        archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
        archive_write_set_format_option(a.get(), "pax", "hdrcharset", "BINARY") != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a.get(), 1) != ARCHIVE_OK ||
        archive_write_open(a.get(), &out, nullptr, append_output, nullptr) != ARCHIVE_OK) {
        return fail(Errc::Internal, "backup", "cannot start the archive: " + lib_error(a.get()));
    }
    if (auto ok = write_member(a.get(), entry.get(), std::string(kManifestName), manifest.dump(), now); !ok) {
        return tl::unexpected(ok.error());
    }
    for (const auto& [key, value] : *keys) {
        if (auto ok = write_member(a.get(), entry.get(), key.substr(1), value, now); !ok) {
            return tl::unexpected(ok.error());
        }
    }
    if (archive_write_close(a.get()) != ARCHIVE_OK) {
        return fail(Errc::Internal, "backup", "cannot finish the archive: " + lib_error(a.get()));
    }
    return out;
}

Result<RestoreReport> restore_backup(store::Store& store, const BackupSpec& spec, std::string_view archive,
                                     bool replace) {
    if (auto ok = check_spec(spec); !ok) return tl::unexpected(ok.error());
    auto read = read_archive(archive, spec);
    if (!read) return tl::unexpected(read.error());
    std::vector<Member>* members = &read->members;

    RestoreReport report;
    report.total = members->size();
    std::vector<Member> converted;
    if (read->simplekvm) {
        std::vector<std::pair<std::string, std::string>> files;
        for (Member& m : read->members) files.emplace_back(std::move(m.name), std::move(m.data));
        auto keys = convert_simplekvm_backup(files, report.skip);
        if (!keys) return tl::unexpected(keys.error());
        for (auto& [key, value] : *keys) converted.push_back(Member{key.substr(1), std::move(value)});
        members = &converted;
    }
    store::Txn txn;
    if (replace) {
        for (const std::string& prefix : spec.prefixes) txn.ops.push_back(store::Op::erase_prefix(prefix));
    }
    for (Member& member : *members) {
        std::string key = "/" + member.name;
        if (!under_prefixes(key, spec.prefixes)) {
            report.skip.push_back(member.name + ": unknown member");
            continue;
        }
        if (spec.validate) {
            if (auto ok = spec.validate(key, member.data); !ok) {
                return fail(Errc::BadInput, member.name, member.name + ": " + ok.error().desc);
            }
        }
        txn.ops.push_back(store::Op::put(std::move(key), std::move(member.data)));
        ++report.apply;
    }
    if (!txn.ops.empty()) {
        if (auto committed = store.commit(txn); !committed) return tl::unexpected(committed.error());
    }
    return report;
}

}  // namespace kvmhub::catalog
