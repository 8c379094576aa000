{#- Disk in the host's storage pool: a linked clone of a gold image, or blank -#}
<disk type='volume' device='disk'>
  <driver name='qemu' type='{{ vm_disk_type | default('qcow2', true) }}' cache='none' io='native' discard='unmap'/>
  <source pool='{{ host.pool | default('kvmhub', true) }}' volume='{{ vm_last_disk }}-{{ vm_uuid }}.{{ vm_disk_type | default('qcow2', true) }}'/>
  <target dev='{{ vm_last_disk }}' bus='{{ vm_disk_bus | default('virtio', true) }}'/>
</disk>
