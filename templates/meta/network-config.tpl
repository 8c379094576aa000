{#- network-config v2: static address when vm_ipaddr is set, DHCP otherwise -#}
version: 2
ethernets:
  {{ vm_interface | default('eth0', true) | tojson }}:
    {%- if vm_ipaddr is defined and vm_ipaddr != '' %}
    addresses: [{{ vm_ipaddr | tojson }}]
    {%- if vm_gateway is defined and vm_gateway != '' %}
    routes:
      - to: default
        via: {{ vm_gateway | tojson }}
    {%- endif %}
    {%- if vm_dns is defined and vm_dns != '' %}
    nameservers:
      addresses: [{{ vm_dns | tojson }}]
    {%- endif %}
    {%- else %}
    dhcp4: true
    {%- endif %}
