#include "api/inputs.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace kvmhub::api {

using namespace http;

Input host_path() {
    return Input::none().path(name("host"));
}

Input vm_path() {
    return Input::none().path(name("host")).path(uuid("uuid"));
}

Input vm_command() {
    return vm_path().ignore_query({"k", "e", "l"});
}

const std::vector<std::string>& vm_machines() {
    static const std::vector<std::string> k{"pc", "q35", "pc-i440fx-*", "pc-q35-*", "virt", "virt-*"};
    return k;
}
const std::vector<std::string>& vm_disk_buses() {
    static const std::vector<std::string> k{"virtio", "scsi", "sata", "ide", "usb"};
    return k;
}
const std::vector<std::string>& vm_net_models() {
    static const std::vector<std::string> k{"virtio", "e1000", "e1000e", "rtl8139", "vmxnet3", "ne2k_pci", "pcnet"};
    return k;
}
const std::vector<std::string>& vm_videos() {
    static const std::vector<std::string> k{"virtio", "vga", "qxl", "cirrus", "bochs", "ramfb", "none"};
    return k;
}
const std::vector<std::string>& vm_sounds() {
    static const std::vector<std::string> k{"ich9", "ich6", "ich7", "ac97", "es1370", "sb16", "usb"};
    return k;
}

std::vector<Field> vm_variables() {
    return {
        name("vm_name").eg("vm1"),
        text("vm_desc", 1024, true).eg("a <test> & 'vm'"),
        one_of("vm_machine", vm_machines()),
        token("vm_cpu", 64).eg("host-model"),
        integer("vm_vcpus", 1, 1024),
        integer("vm_vcpus_max", 1, 1024),
        integer("vm_ram_mb", 16, 16 << 20).eg("64"),
        integer("vm_ram_mb_max", 16, 16 << 20).eg("64"),
        text("vm_uefi", 256).eg("/usr/share/OVMF/OVMF_CODE.fd"),
        one_of("vm_uefi_secure", {"yes", "no"}).eg("no"),
        one_of("vm_graph", {"vnc", "spice"}),
        token("vm_graph_listen", 64).eg("127.0.0.1"),
        one_of("vm_video", vm_videos()),
        one_of("vm_sound", vm_sounds()),
        one_of("vm_rng", {"yes", "no"}),
        one_of("vm_disk_bus", vm_disk_buses()),
        one_of("vm_disk_type", {"qcow2", "raw"}),
        one_of("vm_net_model", vm_net_models()),
        one_of("vm_meta_enum", {"ISO", "NOCLOUD"}),
        name("vm_interface").eg("eth0"),
        text("vm_ipaddr", 64).eg("192.0.2.10/24"),
        token("vm_gateway", 64).eg("192.0.2.1"),
        lines("vm_dns", 1024).eg("192.0.2.53"),
        name("vm_user").eg("clouduser"),
        text("vm_password", 1024).eg("secret"),
        lines("vm_sshkey", 64 * 1024).eg("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk test"),
        text("vm_timezone", 64).eg("Europe/Berlin"),
        token("vm_locale", 64).eg("en_US.UTF-8"),
        name("rbd_user").eg("libvirt"),
        uuid("rbd_secret_uuid"),
        name("rbd_pool").eg("libvirt-pool"),
        lines("rbd_mons", 4096).eg("192.0.2.5:6789"),
        integer("vm_netcfg_version", 1, 2).eg("2"),
        token("vm_instance_id", 128).eg("i-1"),
    };
}

std::vector<Field> attach_variables() {
    auto fields = vm_variables();
    fields.push_back(token("size", 16).eg("1"));  // GiB: 10, "10" or simplekvm's older "10G"; checked by the service
    fields.push_back(name("gold").eg(""));
    fields.push_back(one_of("clone", {"linked", "full"}));
    return fields;
}

Status check_for_arch(const nlohmann::json& body, const std::string& arch) {
    auto it = body.find("vm_machine");
    if (it == body.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) return {};
    const std::string& machine = it->get_ref<const std::string&>();
    const bool arm = machine == "virt" || machine.starts_with("virt-");
    if (arm != (arch == "aarch64"))
        return fail(Errc::BadInput, "vm_machine",
                    fmt::format("'vm_machine' is '{}', a machine type of {}; host's architecture is {}: use {}",
                                machine, arm ? "aarch64" : "x86_64", arch, arch == "aarch64" ? "virt" : "pc or q35"));
    return {};
}

}  // namespace kvmhub::api
