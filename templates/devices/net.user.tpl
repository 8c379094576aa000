{#- NIC with qemu user-mode networking (no host setup; the host is 10.0.2.2 inside) -#}
<interface type='user'>
  <model type='{{ vm_net_model | default('virtio', true) }}'/>
</interface>
