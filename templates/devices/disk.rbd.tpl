{#- Ceph RBD network disk -#}
<disk type='network' device='disk'>
  <driver name='qemu' type='raw' cache='none' discard='unmap'/>
  <auth username='{{ rbd_user | default('libvirt', true) }}'>
    <secret type='ceph' uuid='{{ rbd_secret_uuid }}'/>
  </auth>
  <source protocol='rbd' name='{{ rbd_pool | default('libvirt-pool', true) }}/{{ vm_last_disk }}-{{ vm_uuid }}.raw'>
    {%- for mon in rbd_mons | default(['127.0.0.1'], true) %}
    <host name='{{ mon }}' port='6789'/>
    {%- endfor %}
  </source>
  <target dev='{{ vm_last_disk }}' bus='{{ vm_disk_bus | default('virtio', true) }}'/>
</disk>
