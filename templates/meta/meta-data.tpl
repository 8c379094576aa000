{#- NoCloud meta-data: instance id and host name -#}
instance-id: {{ vm_uuid | tojson }}
local-hostname: {{ vm_name | default('vmsrv', true) | tojson }}
