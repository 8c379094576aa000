// Template engine throughput: one domain-like XML template (about 100 lines, 20 variables, macros, loops),
// parsed once and rendered per iteration, as the daemon does when it creates VMs.
#include <string>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "tmpl/template.hpp"

namespace {

const char* const kDomain = R"({#- Benchmark domain: x86_64 and aarch64 -#}
{% macro getcpu() -%}
{% if vm_cpu is defined and vm_cpu != '' -%}
<cpu mode='custom' match='exact'><model fallback='allow'>{{ vm_cpu }}</model></cpu>
{%- elif vm_arch == 'aarch64' -%}
<cpu mode='host-passthrough'/>
{%- else -%}
<cpu mode='host-model'/>
{%- endif %}
{%- endmacro %}
{% macro getdev(bus, index) -%}
{{ 'vd' if bus == 'virtio' else ('hd' if bus == 'ide' else 'sd') }}{{ 'abcdefghijklmnop'[index] }}
{%- endmacro %}
{% macro disk(path, bus, index, readonly=false) -%}
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none' discard='unmap'/>
      <source file='{{ path }}'/>
      <target dev='{{ getdev(bus, index) }}' bus='{{ bus }}'/>
{% if readonly %}
      <readonly/>
{% endif %}
    </disk>
{%- endmacro %}
<domain type='{{ vm_domain_type | default('kvm') }}'>
  <name>{{ vm_name | default('vmsrv') }}-{{ vm_uuid }}</name>
  <uuid>{{ vm_uuid }}</uuid>
  <title>{{ vm_name | default('vmsrv') }}</title>
  <description>{{ vm_desc }}</description>
  <metadata>
    <mdconfig:meta xmlns:mdconfig='urn:iso-meta'>
      <ipaddr>{{ vm_ipaddr }}</ipaddr>
      <gateway>{{ vm_gateway }}</gateway>
      <create>{{ vm_create }}</create>
      <creater>{{ vm_creater }}</creater>
{% for key in vm_meta | default([]) %}
      <{{ key }}>{{ vm_meta[key] }}</{{ key }}>
{% endfor %}
    </mdconfig:meta>
  </metadata>
  <memory unit='MiB'>{{ vm_ram_mb_max | default(vm_ram_mb, true) | default(8192, true) }}</memory>
  <currentMemory unit='MiB'>{{ vm_ram_mb | default(1024) }}</currentMemory>
  <vcpu placement='static' current='{{ vm_vcpus | default(1) }}'>{{ vm_vcpus_max | default(vm_vcpus, true) | default(1, true) }}</vcpu>
  {{ getcpu() }}
  <os>
    <type arch='{{ vm_arch }}' machine='{{ vm_machine | default('pc' if vm_arch == 'x86_64' else 'virt') }}'>hvm</type>
{% if vm_uefi is defined and vm_uefi != '' %}
    <loader readonly='yes' secure='{{ 'yes' if vm_uefi_secure else 'no' }}' type='pflash'>{{ vm_uefi }}</loader>
{% endif %}
{% for dev in ['hd', 'cdrom', 'network'] %}
    <boot dev='{{ dev }}'/>
{% endfor %}
  </os>
  <features>
    <acpi/>
{% if vm_arch == 'x86_64' %}
    <apic/>
    <vmport state='off'/>
{% endif %}
  </features>
  <clock offset='utc'>
    <timer name='rtc' tickpolicy='catchup'/>
    <timer name='pit' tickpolicy='delay'/>
    <timer name='hpet' present='no'/>
  </clock>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
{% for path in vm_disks %}
{{ disk(path, vm_disk_bus | default('virtio'), loop.index0) }}
{% endfor %}
{% if vm_meta_enum == 'ISO' %}
    <disk type='file' device='cdrom'>
      <source file='/var/lib/kvmhub/cidata/{{ vm_uuid }}.iso'/>
      <target dev='{{ getdev('sata', 0) }}' bus='sata'/>
      <readonly/>
    </disk>
{% endif %}
    <interface type='bridge'>
      <source bridge='{{ vm_interface | default('br-ext') }}'/>
      <model type='{{ vm_net_model | default('virtio') }}'/>
    </interface>
    <serial type='pty'>
      <log file='/var/log/kvmhub/{{ vm_uuid }}.log' append='on'/>
      <target port='0'/>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    <memballoon model='virtio'/>
{% if vm_rng != 'no' %}
    <rng model='virtio'>
      <backend model='random'>/dev/urandom</backend>
    </rng>
{% endif %}
{% if vm_graph in ['vnc', 'spice'] %}
    <graphics type='{{ vm_graph }}' autoport='yes' listen='0.0.0.0'/>
    <video><model type='{{ vm_video | default('virtio') }}'/></video>
{% endif %}
  </devices>
</domain>
)";

nlohmann::json context() {
    return {
        {"vm_name", "web-01"},
        {"vm_uuid", "8c6a1e3c-1f5b-4b8e-9d3a-2f4c5d6e7f80"},
        {"vm_desc", "Front end <prod> & friends"},
        {"vm_arch", "x86_64"},
        {"vm_cpu", ""},
        {"vm_vcpus", 2},
        {"vm_vcpus_max", 4},
        {"vm_ram_mb", 2048},
        {"vm_ram_mb_max", 4096},
        {"vm_uefi", "/usr/share/OVMF/OVMF_CODE_4M.fd"},
        {"vm_uefi_secure", false},
        {"vm_graph", "vnc"},
        {"vm_video", "virtio"},
        {"vm_rng", "yes"},
        {"vm_disk_bus", "virtio"},
        {"vm_disks", {"/var/lib/libvirt/images/web-01-a.qcow2", "/var/lib/libvirt/images/web-01-b.qcow2"}},
        {"vm_meta_enum", "ISO"},
        {"vm_interface", "br-ext"},
        {"vm_net_model", "virtio"},
        {"vm_ipaddr", "10.0.0.21/24"},
        {"vm_gateway", "10.0.0.1"},
        {"vm_create", "2024-05-01T10:00:00Z"},
        {"vm_creater", "admin"},
        {"vm_meta", {{"owner", "team-a"}, {"tier", "web"}}},
    };
}

void BM_TemplateRenderDomain(benchmark::State& state) {
    auto tmpl = kvmhub::tmpl::Template::parse("domain", kDomain);
    if (!tmpl) {
        state.SkipWithError(tmpl.error().desc.c_str());
        return;
    }
    const nlohmann::json ctx = context();
    kvmhub::tmpl::RenderOptions options;
    options.autoescape = true;
    std::size_t bytes = 0;
    for (auto _ : state) {
        auto out = tmpl->render(ctx, options);
        if (!out) {
            state.SkipWithError(out.error().desc.c_str());
            return;
        }
        bytes += out->size();
        benchmark::DoNotOptimize(out);
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_TemplateRenderDomain);

void BM_TemplateParseDomain(benchmark::State& state) {
    for (auto _ : state) {
        auto tmpl = kvmhub::tmpl::Template::parse("domain", kDomain);
        benchmark::DoNotOptimize(tmpl);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TemplateParseDomain);

}  // namespace
