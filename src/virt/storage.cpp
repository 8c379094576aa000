// Storage pools and volumes on a host: kvmhub's directory pool, and volumes made blank, as
// qcow2 overlays (linked clones), as full copies, or by streaming a local file over the
// libvirt connection, so that neither ssh nor a shared file system is needed (qemu+tls works).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>
#include <pugixml.hpp>

#include "common/log.hpp"
#include "common/xml_escape.hpp"
#include "virt/error.hpp"
#include "virt/ops.hpp"

namespace kvmhub::virt::ops {
namespace {

using StreamPtr = CPtr<virStream, virStreamFree>;

// Bytes per virStreamSend: big enough that the RPC overhead does not matter, small enough
// that progress (and the liveness it proves) is reported often.
constexpr std::size_t kChunk = 1 << 20;

class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

std::string pool_xml(const PoolSpec& spec) {
    return fmt::format("<pool type='dir'><name>{}</name><target><path>{}</path></target></pool>", xml_escape(spec.name),
                       xml_escape(spec.path));
}

std::string volume_xml(const VolumeSpec& spec) {
    std::string xml = fmt::format(
        "<volume><name>{}</name><capacity unit='bytes'>{}</capacity><allocation unit='bytes'>0</allocation>"
        "<target><format type='{}'/>",
        xml_escape(spec.name), spec.capacity, xml_escape(spec.format));
    if (!spec.mode.empty()) xml += fmt::format("<permissions><mode>{}</mode></permissions>", xml_escape(spec.mode));
    xml += "</target>";
    if (!spec.backing_path.empty())
        xml += fmt::format("<backingStore><path>{}</path><format type='{}'/></backingStore>",
                           xml_escape(spec.backing_path), xml_escape(spec.backing_format));
    xml += "</volume>";
    return xml;
}

Result<PoolPtr> find_pool(virConnectPtr conn, const HostRef& host, const std::string& name) {
    PoolPtr pool(virStoragePoolLookupByName(conn, name.c_str()));
    if (pool == nullptr) {
        Error err = last_error("pool");
        if (err.code == Errc::NotFound) err.desc = fmt::format("no storage pool '{}' on host {}", name, host.name);
        return tl::unexpected(std::move(err));
    }
    return pool;
}

Result<VolPtr> find_volume(virStoragePoolPtr pool, const HostRef& host, const std::string& pool_name,
                           const std::string& name) {
    VolPtr vol(virStorageVolLookupByName(pool, name.c_str()));
    if (vol == nullptr) {
        Error err = last_error("volume");
        if (err.code == Errc::NotFound)
            err.desc = fmt::format("no volume '{}' in pool '{}' on host {}", name, pool_name, host.name);
        return tl::unexpected(std::move(err));
    }
    return vol;
}

std::uint64_t bytes_of(const pugi::xml_node& node) {
    // libvirt writes volume sizes in bytes; the unit attribute is there but always "bytes".
    return std::strtoull(node.child_value(), nullptr, 10);
}

Result<VolumeInfo> read_volume(virStorageVolPtr vol, const std::string& pool) {
    auto xml = take_string(virStorageVolGetXMLDesc(vol, 0));
    if (!xml) return tl::unexpected(last_error("volume"));
    pugi::xml_document doc;
    if (!doc.load_string(xml->c_str()))
        return fail(Errc::HostError, "volume", "the host sent volume XML that does not parse");
    auto root = doc.child("volume");
    VolumeInfo out;
    out.pool = pool;
    out.name = root.child_value("name");
    out.path = root.child("target").child_value("path");
    out.format = root.child("target").child("format").attribute("type").value();
    out.capacity = bytes_of(root.child("capacity"));
    out.allocation = bytes_of(root.child("allocation"));
    out.backing = root.child("backingStore").child_value("path");
    return out;
}

// Creates from `xml`, optionally cloning `from`; returns the new volume's description.
Result<VolumeInfo> create_from_xml(virConnectPtr conn, const HostRef& host, const std::string& pool_name,
                                   const std::string& xml, const std::string& from, const std::string& op) {
    auto pool = find_pool(conn, host, pool_name);
    if (!pool) return tl::unexpected(pool.error());
    VolPtr source;
    if (!from.empty()) {
        auto found = find_volume(pool->get(), host, pool_name, from);
        if (!found) return tl::unexpected(found.error());
        source = std::move(*found);
    }
    VolPtr vol(from.empty() ? virStorageVolCreateXML(pool->get(), xml.c_str(), 0)
                            : virStorageVolCreateXMLFrom(pool->get(), xml.c_str(), source.get(), 0));
    if (vol == nullptr) return tl::unexpected(last_error(op));
    return read_volume(vol.get(), pool_name);
}

// The most put_volume_content() holds in memory, twice (the old content and the new).
constexpr std::uint64_t kMaxContent = 64ull << 20;

// Writes `data` into `vol` from its first byte over one stream.
Status send_bytes(virConnectPtr conn, virStorageVolPtr vol, std::string_view data, const char* op) {
    StreamPtr stream(virStreamNew(conn, 0));
    if (stream == nullptr) return tl::unexpected(last_error(op));
    if (virStorageVolUpload(vol, stream.get(), 0, data.size(), 0) < 0) return tl::unexpected(last_error(op));
    for (std::size_t sent = 0; sent < data.size();) {
        int n = virStreamSend(stream.get(), data.data() + sent, std::min(kChunk, data.size() - sent));
        if (n < 0) {
            Error err = last_error(op);
            virStreamAbort(stream.get());
            last_error(op);
            return tl::unexpected(std::move(err));
        }
        sent += static_cast<std::size_t>(n);
    }
    if (virStreamFinish(stream.get()) < 0) return tl::unexpected(last_error(op));
    return {};
}

// The first `size` bytes of `vol` over one stream.
Result<std::string> recv_bytes(virConnectPtr conn, virStorageVolPtr vol, std::uint64_t size, const char* op) {
    StreamPtr stream(virStreamNew(conn, 0));
    if (stream == nullptr) return tl::unexpected(last_error(op));
    std::string out;
    if (size == 0) return out;
    if (virStorageVolDownload(vol, stream.get(), 0, size, 0) < 0) return tl::unexpected(last_error(op));
    std::vector<char> buffer(kChunk);
    for (;;) {
        int n = virStreamRecv(stream.get(), buffer.data(), buffer.size());
        if (n < 0) {
            Error err = last_error(op);
            virStreamAbort(stream.get());
            last_error(op);
            return tl::unexpected(std::move(err));
        }
        if (n == 0) break;
        out.append(buffer.data(), static_cast<std::size_t>(n));
    }
    if (virStreamFinish(stream.get()) < 0) return tl::unexpected(last_error(op));
    return out;
}

}  // namespace

Status ensure_pool(virConnectPtr conn, const HostRef& host, const PoolSpec& spec) {
    auto log = log::get("virt");
    PoolPtr pool(virStoragePoolLookupByName(conn, spec.name.c_str()));
    if (pool == nullptr) {
        Error err = last_error("pool");
        if (err.code != Errc::NotFound) return tl::unexpected(std::move(err));
        pool.reset(virStoragePoolDefineXML(conn, pool_xml(spec).c_str(), 0));
        if (pool == nullptr) {
            err = last_error("pool_path");
            // Another request defined it meanwhile: use that one.
            pool.reset(virStoragePoolLookupByName(conn, spec.name.c_str()));
            if (pool == nullptr) {
                last_error("pool");
                return tl::unexpected(std::move(err));
            }
        } else {
            log->info("defined storage pool host={} pool={} path={}", host.name, spec.name, spec.path);
            // Makes the directory; an existing one is fine.
            if (virStoragePoolBuild(pool.get(), 0) < 0) {
                Error built = last_error("pool_path");
                built.desc = fmt::format("cannot create {} for pool '{}' on host {}: {}", spec.path, spec.name,
                                         host.name, built.desc);
                virStoragePoolUndefine(pool.get());
                return tl::unexpected(std::move(built));
            }
            if (virStoragePoolSetAutostart(pool.get(), 1) < 0) return tl::unexpected(last_error("pool"));
        }
    }
    int active = virStoragePoolIsActive(pool.get());
    if (active < 0) return tl::unexpected(last_error("pool"));
    if (active == 0) {
        if (virStoragePoolCreate(pool.get(), 0) < 0) {
            // A directory removed behind libvirt's back: build it again and retry once.
            last_error("pool");
            if (virStoragePoolBuild(pool.get(), 0) < 0 || virStoragePoolCreate(pool.get(), 0) < 0) {
                Error err = last_error("pool");
                if (virStoragePoolIsActive(pool.get()) != 1) return tl::unexpected(std::move(err));
            }
        }
        log->info("started storage pool host={} pool={}", host.name, spec.name);
    }
    if (virStoragePoolRefresh(pool.get(), 0) < 0) {
        // A refresh racing another one (two attaches at once) is harmless.
        Error err = last_error("pool");
        if (err.code != Errc::Conflict) return tl::unexpected(std::move(err));
    }
    return {};
}

Result<VolumeInfo> volume(virConnectPtr conn, const HostRef& host, const std::string& pool_name,
                          const std::string& name) {
    auto pool = find_pool(conn, host, pool_name);
    if (!pool) return tl::unexpected(pool.error());
    auto vol = find_volume(pool->get(), host, pool_name, name);
    if (!vol) return tl::unexpected(vol.error());
    return read_volume(vol->get(), pool_name);
}

Result<std::vector<VolumeInfo>> volumes(virConnectPtr conn, const HostRef& host, const std::string& pool_name,
                                        const std::string& prefix) {
    auto pool = find_pool(conn, host, pool_name);
    if (!pool) return tl::unexpected(pool.error());
    virStorageVolPtr* raw = nullptr;
    int count = virStoragePoolListAllVolumes(pool->get(), &raw, 0);
    if (count < 0) return tl::unexpected(last_error("volumes"));
    std::vector<VolPtr> vols;
    vols.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) vols.emplace_back(raw[i]);
    std::free(raw);
    std::vector<VolumeInfo> out;
    for (const auto& vol : vols) {
        const char* name = virStorageVolGetName(vol.get());
        if (name == nullptr || std::string_view(name).substr(0, prefix.size()) != prefix) continue;
        auto info = read_volume(vol.get(), pool_name);
        if (info) {
            out.push_back(std::move(*info));
        } else if (info.error().code != Errc::NotFound) {
            return tl::unexpected(info.error());
        }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
}

Result<VolumeInfo> create_volume(virConnectPtr conn, const HostRef& host, const std::string& pool,
                                 const VolumeSpec& spec) {
    return create_from_xml(conn, host, pool, volume_xml(spec), "", "create_volume");
}

Result<VolumeInfo> copy_volume(virConnectPtr conn, const HostRef& host, const std::string& pool,
                               const std::string& source, const VolumeSpec& spec) {
    return create_from_xml(conn, host, pool, volume_xml(spec), source, "copy_volume");
}

Status resize_volume(virConnectPtr conn, const HostRef& host, const std::string& pool_name, const std::string& name,
                     std::uint64_t capacity) {
    auto pool = find_pool(conn, host, pool_name);
    if (!pool) return tl::unexpected(pool.error());
    auto vol = find_volume(pool->get(), host, pool_name, name);
    if (!vol) return tl::unexpected(vol.error());
    if (virStorageVolResize(vol->get(), capacity, 0) < 0) return tl::unexpected(last_error("resize_volume"));
    return {};
}

Result<VolumeInfo> upload_volume(virConnectPtr conn, const HostRef& host, const std::string& pool_name,
                                 const VolumeSpec& spec, const std::string& file, const UploadProgress& progress) {
    Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (fd.get() < 0 || fstat(fd.get(), &st) < 0)
        return fail(Errc::Internal, "file", fmt::format("cannot read {}: {}", file, std::strerror(errno)));
    const auto size = static_cast<std::uint64_t>(st.st_size);

    auto pool = find_pool(conn, host, pool_name);
    if (!pool) return tl::unexpected(pool.error());
    // Created raw and sparse (nothing is written); the upload puts the image's own bytes in,
    // and the refresh afterwards reads its real format and virtual size from them.
    VolumeSpec raw = spec;
    raw.format = "raw";
    raw.capacity = size;
    raw.backing_path.clear();
    VolPtr vol(virStorageVolCreateXML(pool->get(), volume_xml(raw).c_str(), 0));
    if (vol == nullptr) return tl::unexpected(last_error("upload_volume"));

    // From here on every failure deletes the half-made volume.
    auto undo = [&](Error err) -> Result<VolumeInfo> {
        if (virStorageVolDelete(vol.get(), 0) < 0) {
            Error left = last_error("upload_volume");
            log::get("virt")->error("cannot delete half-uploaded volume host={} pool={} vol={} error={}", host.name,
                                    pool_name, spec.name, left.desc);
        }
        return tl::unexpected(std::move(err));
    };
    StreamPtr stream(virStreamNew(conn, 0));
    if (stream == nullptr) return undo(last_error("upload_volume"));
    if (virStorageVolUpload(vol.get(), stream.get(), 0, size, 0) < 0) return undo(last_error("upload_volume"));

    std::vector<char> buffer(kChunk);
    std::uint64_t done = 0;
    while (done < size) {
        ssize_t got = ::read(fd.get(), buffer.data(), buffer.size());
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            Error err{Errc::Internal, "file",
                      got == 0 ? fmt::format("{} became shorter while it was uploaded", file)
                               : fmt::format("cannot read {}: {}", file, std::strerror(errno))};
            virStreamAbort(stream.get());
            last_error("upload_volume");
            return undo(std::move(err));
        }
        for (ssize_t sent = 0; sent < got;) {
            int n = virStreamSend(stream.get(), buffer.data() + sent, static_cast<std::size_t>(got - sent));
            if (n < 0) {
                Error err = last_error("upload_volume");
                virStreamAbort(stream.get());
                last_error("upload_volume");
                return undo(std::move(err));
            }
            sent += n;
        }
        done += static_cast<std::uint64_t>(got);
        if (!progress(done, size)) {
            virStreamAbort(stream.get());
            last_error("upload_volume");
            return undo(Error{Errc::Conflict, "upload",
                              fmt::format("upload of {} stopped at {} of {} bytes", spec.name, done, size)});
        }
    }
    if (virStreamFinish(stream.get()) < 0) return undo(last_error("upload_volume"));
    // The pool re-reads the file now (libvirt's own refresh after an upload runs later, in a thread).
    if (virStoragePoolRefresh(pool->get(), 0) < 0) last_error("upload_volume");
    VolPtr fresh(virStorageVolLookupByName(pool->get(), spec.name.c_str()));
    if (fresh == nullptr) return tl::unexpected(last_error("upload_volume"));
    return read_volume(fresh.get(), pool_name);
}

Result<VolumeInfo> put_volume_content(virConnectPtr conn, const HostRef& host, const std::string& pool_name,
                                      const std::string& name, const std::string& content) {
    constexpr const char* kOp = "put_volume_content";
    auto failed = [&](Error err, std::string_view outcome) -> Result<VolumeInfo> {
        err.desc = fmt::format("cannot write volume '{}' in pool '{}' on host {}: {}{}", name, pool_name, host.name,
                               err.desc, outcome);
        return tl::unexpected(std::move(err));
    };
    if (content.size() > kMaxContent)
        return fail(Errc::BadInput, "volume",
                    fmt::format("{} bytes are too many to write from memory", content.size()));
    auto pool = find_pool(conn, host, pool_name);
    if (!pool) return tl::unexpected(pool.error());
    auto found = find_volume(pool->get(), host, pool_name, name);
    if (!found && found.error().code != Errc::NotFound) return tl::unexpected(found.error());
    const bool made = !found;
    VolPtr vol;
    std::string old;
    if (made) {
        VolumeSpec spec;
        spec.name = name;
        spec.format = "raw";
        spec.capacity = content.size();
        vol.reset(virStorageVolCreateXML(pool->get(), volume_xml(spec).c_str(), 0));
        if (vol == nullptr) return failed(last_error(kOp), "");
    } else {
        vol = std::move(*found);
        auto info = read_volume(vol.get(), pool_name);
        if (!info) return tl::unexpected(info.error());
        if (info->capacity > kMaxContent)
            return failed(Error{Errc::BadInput, "volume",
                                fmt::format("it is {} bytes, too big to replace from memory", info->capacity)},
                          "");
        // Read first, so that a write that fails half-way can be undone.
        auto read = recv_bytes(conn, vol.get(), info->capacity, kOp);
        if (!read) return failed(read.error(), " (it was not changed)");
        old = std::move(*read);
        if (content.size() > old.size() && virStorageVolResize(vol.get(), content.size(), 0) < 0)
            return failed(last_error(kOp), " (it was not changed)");
    }
    std::string data = content;
    if (data.size() < old.size()) data.resize(old.size(), '\0');
    auto written = send_bytes(conn, vol.get(), data, kOp);
    if (written) return read_volume(vol.get(), pool_name);
    if (made) {
        if (virStorageVolDelete(vol.get(), 0) < 0) {
            Error left = last_error(kOp);
            log::get("virt")->error("cannot delete half-written volume host={} pool={} vol={} error={}", host.name,
                                    pool_name, name, left.desc);
        }
        return failed(written.error(), " (the new volume was deleted)");
    }
    auto restored = send_bytes(conn, vol.get(), old, kOp);
    if (restored) return failed(written.error(), " (it keeps its previous content)");
    return failed(written.error(), fmt::format("; writing its previous content back failed too: {} (the volume may "
                                               "be damaged)",
                                               restored.error().desc));
}

Result<std::string> volume_content(virConnectPtr conn, const HostRef& host, const std::string& pool_name,
                                   const std::string& name, std::uint64_t max_bytes) {
    auto pool = find_pool(conn, host, pool_name);
    if (!pool) return tl::unexpected(pool.error());
    auto vol = find_volume(pool->get(), host, pool_name, name);
    if (!vol) return tl::unexpected(vol.error());
    auto info = read_volume(vol->get(), pool_name);
    if (!info) return tl::unexpected(info.error());
    if (info->capacity > max_bytes)
        return fail(Errc::BadInput, "volume",
                    fmt::format("volume '{}' in pool '{}' on host {} is {} bytes, more than {}", name, pool_name,
                                host.name, info->capacity, max_bytes));
    return recv_bytes(conn, vol->get(), info->capacity, "volume_content");
}

}  // namespace kvmhub::virt::ops
