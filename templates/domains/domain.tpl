{#- VM for x86_64 and aarch64: cloud-init by ISO or SMBIOS serial, optional UEFI and graphics -#}
{%- macro getcpu() -%}
{%- if vm_cpu is defined and vm_cpu not in ['', 'host-model', 'host-passthrough'] %}
  <cpu mode='custom' match='exact' check='none'>
    <model fallback='allow'>{{ vm_cpu }}</model>
  </cpu>
{%- elif host.domain_type == 'kvm' and (vm_cpu == 'host-passthrough' or (vm_arch == 'aarch64' and vm_cpu | default('', true) == '')) %}
  <cpu mode='host-passthrough' check='none'/>
{%- elif host.domain_type == 'kvm' %}
  <cpu mode='host-model' check='partial'/>
{%- elif vm_arch == 'aarch64' %}
  <cpu mode='custom' match='exact' check='none'>
    <model fallback='allow'>max</model>
  </cpu>
{%- endif %}
{%- endmacro -%}
{#- CD-ROM bus: IDE on the pc machine (Debian's cloud kernel has no AHCI, so it cannot see a
    SATA CD-ROM), SATA on q35 (no IDE there), virtio-scsi on aarch64 virt. -#}
{%- macro cdbus() -%}
{%- if vm_disk_bus in ['sata', 'scsi', 'ide'] -%}{{ vm_disk_bus }}
{%- elif vm_arch == 'aarch64' -%}scsi
{%- elif 'q35' in vm_machine | default('pc', true) -%}sata
{%- else -%}ide{%- endif -%}
{%- endmacro -%}
<domain type='{{ host.domain_type | default('qemu', true) }}'>
  <name>{{ vm_name | default('vmsrv', true) }}-{{ vm_uuid }}</name>
  <uuid>{{ vm_uuid }}</uuid>
  <title>{{ vm_name | default('vmsrv', true) }}</title>
  <description>{{ vm_desc }}</description>
  <metadata>
    <mdconfig:meta xmlns:mdconfig='urn:iso-meta'>
      <vm_ipaddr>{{ vm_ipaddr }}</vm_ipaddr>
      <vm_gateway>{{ vm_gateway }}</vm_gateway>
      <vm_create>{{ vm_create }}</vm_create>
      <vm_creater>{{ vm_creater }}</vm_creater>
    </mdconfig:meta>
  </metadata>
  <memory unit='MiB'>{{ vm_ram_mb_max | default(vm_ram_mb, true) | default(8192, true) }}</memory>
  <currentMemory unit='MiB'>{{ vm_ram_mb | default(1024, true) }}</currentMemory>
  <vcpu placement='static' current='{{ vm_vcpus | default(1, true) }}'>{{ vm_vcpus_max | default(vm_vcpus, true) | default(8, true) }}</vcpu>
  {{- getcpu() }}
  <os>
    {%- if vm_arch == 'aarch64' %}
    <type arch='aarch64' machine='{{ vm_machine | default('virt', true) }}'>hvm</type>
    {%- else %}
    <type arch='x86_64' machine='{{ vm_machine | default('pc', true) }}'>hvm</type>
    {%- endif %}
    {%- if vm_uefi is defined and vm_uefi != '' %}
    <loader readonly='yes' type='pflash'{% if vm_uefi_secure == 'yes' %} secure='yes'{% endif %}>{{ vm_uefi }}</loader>
    {%- endif %}
    <boot dev='hd'/>
    <boot dev='cdrom'/>
    <boot dev='network'/>
    <bootmenu enable='yes' timeout='3000'/>
    {%- if vm_arch != 'aarch64' %}
    <bios useserial='yes'/>
    {%- endif %}
    {%- if vm_meta_enum == 'NOCLOUD' %}
    <smbios mode='sysinfo'/>
    {%- endif %}
  </os>
  {%- if vm_meta_enum == 'NOCLOUD' %}
  <sysinfo type='smbios'>
    <system>
      <entry name='manufacturer'>kvmhub</entry>
      <entry name='serial'>ds=nocloud-net;s=http://{{ META_SRV }}/{{ vm_uuid }}/</entry>
    </system>
  </sysinfo>
  {%- endif %}
  <features>
    <acpi/>
    {%- if vm_arch == 'aarch64' %}
    <gic version='3'/>
    {%- else %}
    <apic/>
    {%- endif %}
  </features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>restart</on_crash>
  <devices>
    {%- if cdbus() == 'scsi' %}
    <controller type='scsi' model='virtio-scsi'/>
    {%- endif %}
    {%- if vm_meta_enum != 'NOCLOUD' %}
    {%- if host.meta_iso == 'pool' %}
    <disk type='volume' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source pool='{{ host.pool }}' volume='{{ META_ISO_VOL }}'/>
    {%- else %}
    <disk type='network' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source protocol='http' name='/{{ vm_uuid }}/cidata.iso'>
        <host name='{{ META_HOST }}' port='{{ META_PORT }}'/>
      </source>
    {%- endif %}
      <target dev='{% if cdbus() == 'ide' %}hda{% else %}sda{% endif %}' bus='{{ cdbus() }}'/>
      <readonly/>
    </disk>
    {%- endif %}
    <serial type='pty'>
      <log file='/var/log/libvirt/qemu/console.{{ vm_uuid }}.log' append='on'/>
      <target port='0'/>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    {%- if vm_graph in ['vnc', 'spice'] %}
    <graphics type='{{ vm_graph }}' autoport='yes'>
      <listen type='address' address='{{ vm_graph_listen | default('127.0.0.1', true) }}'/>
    </graphics>
    {%- if vm_graph == 'spice' %}
    <channel type='spicevmc'>
      <target type='virtio' name='com.redhat.spice.0'/>
    </channel>
    {%- endif %}
    <video>
      <model type='{{ vm_video | default('virtio', true) }}'/>
    </video>
    {%- endif %}
    {%- if vm_arch != 'aarch64' %}
    {%- if vm_sound is defined and vm_sound != '' %}
    <sound model='{{ vm_sound }}'/>
    {%- endif %}
    <input type='tablet' bus='usb'/>
    <input type='mouse' bus='ps2'/>
    {%- endif %}
    <memballoon model='virtio'/>
    {%- if vm_rng != 'no' %}
    <rng model='virtio'>
      <backend model='random'>/dev/urandom</backend>
    </rng>
    {%- endif %}
  </devices>
</domain>
