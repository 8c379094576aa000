{#- network-config: version 2 by default, version 1 when vm_netcfg_version is 1 (old guests). A static address when vm_ipaddr is set (with vm_gateway and vm_dns), DHCP otherwise; matched by MAC once the VM has a NIC -#}
{%- set ifname = vm_interface | default('eth0', true) %}
{%- if vm_netcfg_version | default('2', true) | string == '1' -%}
version: 1
config:
  - type: physical
    name: {{ ifname | tojson }}
    {%- if vm_mac is defined and vm_mac != '' %}
    mac_address: {{ vm_mac | tojson }}
    {%- endif %}
    subnets:
      {%- if vm_ipaddr is defined and vm_ipaddr != '' %}
      - type: static
        address: {{ vm_ipaddr | tojson }}
        {%- if vm_gateway is defined and vm_gateway != '' %}
        gateway: {{ vm_gateway | tojson }}
        {%- endif %}
        {%- if vm_dns is string and vm_dns != '' %}
        dns_nameservers: [{{ vm_dns | tojson }}]
        {%- elif vm_dns %}
        dns_nameservers: {{ vm_dns | tojson }}
        {%- endif %}
      {%- else %}
      - type: dhcp
      {%- endif %}
{%- else -%}
version: 2
ethernets:
  {{ ifname | tojson }}:
    {%- if vm_mac is defined and vm_mac != '' %}
    match:
      macaddress: {{ vm_mac | tojson }}
    set-name: {{ ifname | tojson }}
    {%- endif %}
    {%- if vm_ipaddr is defined and vm_ipaddr != '' %}
    addresses: [{{ vm_ipaddr | tojson }}]
    {%- if vm_gateway is defined and vm_gateway != '' %}
    routes:
      {#- cloud-init 22.4 does not take "to: default" #}
      - to: {% if ':' in vm_gateway %}"::/0"{% else %}"0.0.0.0/0"{% endif %}
        via: {{ vm_gateway | tojson }}
    {%- endif %}
    {%- if vm_dns is string and vm_dns != '' %}
    nameservers:
      addresses: [{{ vm_dns | tojson }}]
    {%- elif vm_dns %}
    nameservers:
      addresses: {{ vm_dns | tojson }}
    {%- endif %}
    {%- else %}
    dhcp4: true
    {%- endif %}
{%- endif %}
