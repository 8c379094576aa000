{#- network-config, one entry per NIC of the VM (vm_nics), matched by MAC: a static address where the NIC has one (vm_ipaddr, vm_gateway, vm_dns; the VM's own go to its first NIC), DHCP otherwise. The distribution keeps its own NIC names unless vm_interface names one (cloud-init renames the NIC then). Version 2 by default, version 1 when vm_netcfg_version is 1 (old guests; version 1 always names, so renames, the NIC: eth0, eth1, ... unless vm_interface says). Empty for a VM without NICs, so that cloud-init falls back to DHCP on the first NIC it finds -#}
{%- if vm_nics %}
{%- if vm_netcfg_version | default('2', true) | string == '1' -%}
version: 1
config:
{%- for nic in vm_nics %}
  - type: physical
    name: {{ nic.name | default('eth' ~ loop.index0, true) | tojson }}
    mac_address: {{ nic.mac | tojson }}
    subnets:
      {%- if nic.ipaddr %}
      - type: static
        address: {{ nic.ipaddr | tojson }}
        {%- if nic.gateway %}
        gateway: {{ nic.gateway | tojson }}
        {%- endif %}
        {%- if nic.dns %}
        dns_nameservers: {{ nic.dns | tojson }}
        {%- endif %}
      {%- else %}
      - type: dhcp
      {%- endif %}
{%- endfor %}
{%- else -%}
version: 2
ethernets:
{%- for nic in vm_nics %}
  {{ nic.name | default('nic' ~ loop.index0, true) | tojson }}:
    match:
      macaddress: {{ nic.mac | tojson }}
    {%- if nic.name %}
    set-name: {{ nic.name | tojson }}
    {%- endif %}
    {%- if nic.ipaddr %}
    addresses: [{{ nic.ipaddr | tojson }}]
    {%- if nic.gateway %}
    {#- not "routes: [{to: 0.0.0.0/0}]": cloud-init 22.4 writes that for ifupdown as "post-up route add", a net-tools command #}
    gateway{{ '6' if ':' in nic.gateway else '4' }}: {{ nic.gateway | tojson }}
    {%- endif %}
    {%- if nic.dns %}
    nameservers:
      addresses: {{ nic.dns | tojson }}
    {%- endif %}
    {%- else %}
    dhcp4: true
    {%- endif %}
{%- endfor %}
{%- endif %}
{%- endif %}
