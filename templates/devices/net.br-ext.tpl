{#- NIC on the host bridge br-ext -#}
<interface type='bridge'>
  <source bridge='br-ext'/>
  <model type='{{ vm_net_model | default('virtio', true) }}'/>
  {%- if vm_net_model | default('virtio', true) == 'virtio' %}
  <driver name='vhost' queues='{{ vm_vcpus | default(1, true) }}'/>
  {%- endif %}
</interface>
