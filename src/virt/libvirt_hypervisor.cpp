// The Hypervisor on libvirt: every method is one operation from ops.hpp, run on a worker of
// the bounded executor against the host's shared connection.
#include <type_traits>

#include "common/log.hpp"
#include "virt/calls.hpp"
#include "virt/connections.hpp"
#include "virt/console_stream.hpp"
#include "virt/event_loop.hpp"
#include "virt/events.hpp"
#include "virt/hypervisor.hpp"
#include "virt/ops.hpp"
#include "virt/probe.hpp"

namespace kvmhub::virt {
namespace {

class LibvirtHypervisor final : public Hypervisor {
public:
    explicit LibvirtHypervisor(const VirtOptions& options)
        : loop_(EventLoop::acquire()),
          hub_(std::make_shared<EventHub>()),
          pool_(std::make_shared<ConnectionPool>(hub_)),
          calls_(options),
          copy_timeout_(options.copy_timeout) {}

    Result<HostCapabilities> capabilities(const HostRef& host) override {
        return run(host, "capabilities", [](virConnectPtr c, const HostRef& h) { return ops::capabilities(c, h); });
    }
    Result<NodeInfo> node_info(const HostRef& host) override {
        return run(host, "node_info", [](virConnectPtr c, const HostRef& h) { return ops::node_info(c, h); });
    }
    Result<std::vector<GuestInfo>> guests(const HostRef& host) override {
        return run(host, "guests", [](virConnectPtr c, const HostRef& h) { return ops::guests(c, h); });
    }
    Result<GuestInfo> guest(const HostRef& host, const std::string& uuid) override {
        return run(host, "guest", [uuid](virConnectPtr c, const HostRef& h) { return ops::guest(c, h, uuid); });
    }

    Result<std::string> define(const HostRef& host, const std::string& xml) override {
        return run(host, "define", [xml](virConnectPtr c, const HostRef& h) { return ops::define(c, h, xml); });
    }
    Result<std::string> xml(const HostRef& host, const std::string& uuid) override {
        return run(host, "xml", [uuid](virConnectPtr c, const HostRef& h) { return ops::persistent_xml(c, h, uuid); });
    }
    Status start(const HostRef& host, const std::string& uuid) override {
        return run(host, "start", [uuid](virConnectPtr c, const HostRef& h) { return ops::start(c, h, uuid); });
    }
    Status shutdown(const HostRef& host, const std::string& uuid) override {
        return run(host, "shutdown", [uuid](virConnectPtr c, const HostRef& h) { return ops::shutdown(c, h, uuid); });
    }
    Status destroy(const HostRef& host, const std::string& uuid) override {
        return run(host, "destroy", [uuid](virConnectPtr c, const HostRef& h) { return ops::destroy(c, h, uuid); });
    }
    Status reset(const HostRef& host, const std::string& uuid) override {
        return run(host, "reset", [uuid](virConnectPtr c, const HostRef& h) { return ops::reset(c, h, uuid); });
    }
    Status undefine(const HostRef& host, const std::string& uuid) override {
        return run(host, "undefine", [uuid](virConnectPtr c, const HostRef& h) { return ops::undefine(c, h, uuid); });
    }
    Status delete_volume(const HostRef& host, const std::string& path) override {
        return run(host, "delete_volume",
                   [path](virConnectPtr c, const HostRef& h) { return ops::delete_volume(c, h, path); });
    }

    Status set_description(const HostRef& host, const std::string& uuid, const std::string& desc) override {
        return run(host, "set_description",
                   [uuid, desc](virConnectPtr c, const HostRef& h) { return ops::set_description(c, h, uuid, desc); });
    }
    Status set_memory(const HostRef& host, const std::string& uuid, std::uint64_t kib) override {
        return run(host, "set_memory",
                   [uuid, kib](virConnectPtr c, const HostRef& h) { return ops::set_memory(c, h, uuid, kib); });
    }
    Status set_vcpus(const HostRef& host, const std::string& uuid, int vcpus) override {
        return run(host, "set_vcpus",
                   [uuid, vcpus](virConnectPtr c, const HostRef& h) { return ops::set_vcpus(c, h, uuid, vcpus); });
    }
    Status set_mdconfig(const HostRef& host, const std::string& uuid, const nlohmann::json& values) override {
        return run(host, "set_mdconfig",
                   [uuid, values](virConnectPtr c, const HostRef& h) { return ops::set_mdconfig(c, h, uuid, values); });
    }

    Result<SnapshotList> snapshots(const HostRef& host, const std::string& uuid) override {
        return run(host, "snapshots", [uuid](virConnectPtr c, const HostRef& h) { return ops::snapshots(c, h, uuid); });
    }
    Status create_snapshot(const HostRef& host, const std::string& uuid, const std::string& name) override {
        return run(host, "create_snapshot",
                   [uuid, name](virConnectPtr c, const HostRef& h) { return ops::create_snapshot(c, h, uuid, name); });
    }
    Status revert_snapshot(const HostRef& host, const std::string& uuid, const std::string& name) override {
        return run(host, "revert_snapshot",
                   [uuid, name](virConnectPtr c, const HostRef& h) { return ops::revert_snapshot(c, h, uuid, name); });
    }
    Status delete_snapshot(const HostRef& host, const std::string& uuid, const std::string& name) override {
        return run(host, "delete_snapshot",
                   [uuid, name](virConnectPtr c, const HostRef& h) { return ops::delete_snapshot(c, h, uuid, name); });
    }

    Result<std::uint64_t> block_size(const HostRef& host, const std::string& uuid, const std::string& dev) override {
        return run(host, "block_size",
                   [uuid, dev](virConnectPtr c, const HostRef& h) { return ops::block_size(c, h, uuid, dev); });
    }
    Result<std::pair<std::uint64_t, std::uint64_t>> net_stats(const HostRef& host, const std::string& uuid,
                                                              const std::string& mac) override {
        return run(host, "net_stats",
                   [uuid, mac](virConnectPtr c, const HostRef& h) { return ops::net_stats(c, h, uuid, mac); });
    }
    Result<std::vector<InterfaceAddresses>> addresses(const HostRef& host, const std::string& uuid) override {
        return run(host, "addresses", [uuid](virConnectPtr c, const HostRef& h) { return ops::addresses(c, h, uuid); });
    }

    Result<ConsoleInfo> console_info(const HostRef& host, const std::string& uuid) override {
        return run(host, "console_info",
                   [uuid](virConnectPtr c, const HostRef& h) { return ops::console_info(c, h, uuid); });
    }
    Result<std::shared_ptr<BytePipe>> open_console(const HostRef& host, const std::string& uuid) override {
        // Not through run(): the stream must hold the connection it was opened on.
        return calls_.call(host, "open_console",
                           [pool = pool_, host, uuid]() -> Result<std::shared_ptr<BytePipe>> {
                               auto conn = pool->get(host);
                               if (!conn) return tl::unexpected(conn.error());
                               return open_console_stream(*conn, host, uuid);
                           });
    }

    Status ensure_pool(const HostRef& host, const PoolSpec& pool) override {
        return run(host, "ensure_pool",
                   [pool](virConnectPtr c, const HostRef& h) { return ops::ensure_pool(c, h, pool); });
    }
    Result<VolumeInfo> volume(const HostRef& host, const std::string& pool, const std::string& name) override {
        return run(host, "volume",
                   [pool, name](virConnectPtr c, const HostRef& h) { return ops::volume(c, h, pool, name); });
    }
    Result<std::vector<VolumeInfo>> volumes(const HostRef& host, const std::string& pool,
                                            const std::string& prefix) override {
        return run(host, "volumes",
                   [pool, prefix](virConnectPtr c, const HostRef& h) { return ops::volumes(c, h, pool, prefix); });
    }
    Result<VolumeInfo> create_volume(const HostRef& host, const std::string& pool, const VolumeSpec& spec) override {
        return run(host, "create_volume",
                   [pool, spec](virConnectPtr c, const HostRef& h) { return ops::create_volume(c, h, pool, spec); });
    }
    Result<VolumeInfo> copy_volume(const HostRef& host, const std::string& pool, const std::string& source,
                                   const VolumeSpec& spec) override {
        // One blocking call for the whole copy: it gets its own, longer deadline, and is
        // never retried (a half-made copy may exist after a failure).
        auto job = [pool = pool_, host, p = pool, source, spec]() -> Result<VolumeInfo> {
            auto conn = pool->get(host);
            if (!conn) return tl::unexpected(conn.error());
            return ops::copy_volume((*conn)->get(), host, p, source, spec);
        };
        return calls_.call_for(host, "copy_volume", copy_timeout_, std::move(job));
    }
    Result<VolumeInfo> upload_volume(const HostRef& host, const std::string& pool, const VolumeSpec& spec,
                                     const std::string& file, UploadProgress progress) override {
        // Lives as long as data moves: every chunk sent is a heartbeat, and a caller that gave
        // up (no chunk for call_timeout) makes the next progress check stop the upload.
        auto beat = std::make_shared<Heartbeat>();
        auto job = [pool = pool_, host, p = pool, spec, file, progress = std::move(progress),
                    beat]() -> Result<VolumeInfo> {
            auto conn = pool->get(host);
            if (!conn) return tl::unexpected(conn.error());
            return ops::upload_volume((*conn)->get(), host, p, spec, file,
                                      [&](std::uint64_t done, std::uint64_t total) {
                                          beat->beat();
                                          return !beat->abandoned.load() && progress(done, total);
                                      });
        };
        return calls_.call_alive(host, "upload_volume", beat, std::move(job));
    }
    Status resize_volume(const HostRef& host, const std::string& pool, const std::string& name,
                         std::uint64_t capacity) override {
        return run(host, "resize_volume", [pool, name, capacity](virConnectPtr c, const HostRef& h) {
            return ops::resize_volume(c, h, pool, name, capacity);
        });
    }
    Result<VolumeInfo> put_volume_content(const HostRef& host, const std::string& pool, const std::string& name,
                                          const std::string& content) override {
        // Not retried: a write cut off half-way leaves content the retry would take for the old one.
        return run(
            host, "put_volume_content",
            [pool, name, content](virConnectPtr c, const HostRef& h) {
                return ops::put_volume_content(c, h, pool, name, content);
            },
            false);
    }
    Result<std::string> volume_content(const HostRef& host, const std::string& pool, const std::string& name,
                                       std::uint64_t max_bytes) override {
        return run(host, "volume_content", [pool, name, max_bytes](virConnectPtr c, const HostRef& h) {
            return ops::volume_content(c, h, pool, name, max_bytes);
        });
    }

    Result<DeviceUse> device_use(const HostRef& host, const std::string& uuid) override {
        return run(host, "device_use",
                   [uuid](virConnectPtr c, const HostRef& h) { return ops::device_use(c, h, uuid); });
    }
    Result<std::string> attach_device(const HostRef& host, const std::string& uuid, const std::string& xml) override {
        return run(host, "attach_device",
                   [uuid, xml](virConnectPtr c, const HostRef& h) { return ops::attach_device(c, h, uuid, xml); });
    }
    Result<DiskInfo> detach_disk(const HostRef& host, const std::string& uuid, const std::string& target) override {
        return run(host, "detach_disk",
                   [uuid, target](virConnectPtr c, const HostRef& h) { return ops::detach_disk(c, h, uuid, target); });
    }
    Status detach_nic(const HostRef& host, const std::string& uuid, const std::string& mac) override {
        return run(host, "detach_nic",
                   [uuid, mac](virConnectPtr c, const HostRef& h) { return ops::detach_nic(c, h, uuid, mac); });
    }
    Status update_device(const HostRef& host, const std::string& uuid, const std::string& xml) override {
        return run(host, "update_device",
                   [uuid, xml](virConnectPtr c, const HostRef& h) { return ops::update_device(c, h, uuid, xml); });
    }

    std::map<std::string, HostCallStats> call_stats() const override { return calls_.stats(); }

    void on_event(std::function<void(const DomainEvent&)> callback) override { hub_->subscribe(std::move(callback)); }

private:
    // Gets the host's connection on the worker (opening may block too) and runs `op` with it.
    // The job captures copies and shared pointers only: it may finish after the caller
    // timed out, or after this object is gone. `retry` false: an op that may have changed
    // something half-way is not run a second time.
    template <typename Op>
    std::invoke_result_t<Op&, virConnectPtr, const HostRef&> run(const HostRef& host, std::string_view name, Op op,
                                                                 bool retry = true) {
        using R = std::invoke_result_t<Op&, virConnectPtr, const HostRef&>;
        return calls_.call(host, name, [pool = pool_, host, op = std::move(op), retry]() -> R {
            auto conn = pool->get(host);
            if (!conn) return tl::unexpected(conn.error());
            R result = op((*conn)->get(), host);
            if (result || result.error().code != Errc::HostUnavailable) return result;
            // The transport failed under us (the host's libvirtd restarted before its close
            // callback told us): never reuse that connection, and try once more on a fresh one.
            (*conn)->mark_dead();
            if (!retry) return result;
            auto fresh = pool->get(host);
            if (!fresh) return tl::unexpected(fresh.error());
            log::get("virt")->info("libvirt call retried on a new connection host={}", host.name);
            result = op((*fresh)->get(), host);
            if (!result && result.error().code == Errc::HostUnavailable) (*fresh)->mark_dead();
            return result;
        });
    }

    // Declared in dependency order: destroyed in reverse, the executor goes first.
    std::shared_ptr<EventLoop> loop_;
    std::shared_ptr<EventHub> hub_;
    std::shared_ptr<ConnectionPool> pool_;
    CallExecutor calls_;
    std::chrono::milliseconds copy_timeout_;
};

}  // namespace

std::unique_ptr<Hypervisor> make_libvirt_hypervisor(const VirtOptions& options) {
    quiet_libvirt_errors();
    return std::make_unique<LibvirtHypervisor>(options);
}

}  // namespace kvmhub::virt
