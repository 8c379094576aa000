{#- The tiny test guest (scripts/test-guest.sh) under kvmhub: direct kernel boot, one qcow2
    disk from a storage pool, qemu user-mode networking, the serial console logged to a file.
    cloud-init data: over HTTP (SMBIOS serial) when vm_meta_enum is NOCLOUD; from a CD-ROM
    whose source is the metadata service's cidata.iso (or, on a host set to meta_iso=pool, the
    VM's cidata volume in the host's pool), exactly as templates/domains/domain.tpl renders it
    on the pc machine, when vm_meta_enum is ISO. Unlike domain.tpl, ISO is not the
    default here: the other tests' guests boot without a CD-ROM (and so without the metadata
    service, which qemu itself would have to reach). A VNC display on the host's loopback
    (kernel messages on the screen too) when vm_graph is vnc. -#}
<domain type='{{ host.domain_type }}'>
  <name>testguest-{{ vm_uuid }}</name>
  <uuid>{{ vm_uuid }}</uuid>
  <title>{{ vm_name | default('testguest', true) }}</title>
  <description>{{ vm_desc }}</description>
  <metadata>
    <mdconfig:meta xmlns:mdconfig='urn:iso-meta'>
      <vm_create>{{ vm_create }}</vm_create>
      <vm_creater>{{ vm_creater }}</vm_creater>
    </mdconfig:meta>
  </metadata>
  <memory unit='MiB'>{{ vm_ram_mb_max | default(vm_ram_mb, true) }}</memory>
  <currentMemory unit='MiB'>{{ vm_ram_mb }}</currentMemory>
  <vcpu placement='static' current='{{ vm_vcpus }}'>{{ vm_vcpus_max | default(vm_vcpus, true) }}</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{{ vm_kernel }}</kernel>
    <initrd>{{ vm_initrd }}</initrd>
    <cmdline>{% if vm_graph == 'vnc' %}console=tty0 {% endif %}console=ttyS0 panic=-1</cmdline>
    {%- if vm_meta_enum == 'NOCLOUD' %}
    <smbios mode='sysinfo'/>
    {%- endif %}
  </os>
  {%- if vm_meta_enum == 'NOCLOUD' %}
  <sysinfo type='smbios'>
    <system>
      <entry name='serial'>ds=nocloud-net;s=http://{{ META_SRV }}/{{ vm_uuid }}/</entry>
    </system>
  </sysinfo>
  {%- endif %}
  <features>
    <acpi/>
    <apic/>
  </features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{{ vm_disk }}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    {%- if vm_meta_enum == 'ISO' %}
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
      <target dev='hda' bus='ide'/>
      <readonly/>
    </disk>
    {%- endif %}
    <interface type='user'>
      <model type='virtio'/>
    </interface>
    <serial type='pty'>
      <log file='{{ vm_serial_log }}' append='off'/>
      <target port='0'/>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
    {%- if vm_graph == 'vnc' %}
    <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>
    <video>
      <model type='vga'/>
    </video>
    {%- endif %}
    <memballoon model='virtio'/>
  </devices>
</domain>
