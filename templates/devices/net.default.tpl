{#- NIC on the libvirt network "default" -#}
<interface type='network'>
  <source network='default'/>
  <model type='{{ vm_net_model | default('virtio', true) }}'/>
</interface>
