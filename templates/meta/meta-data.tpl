{#- NoCloud meta-data: instance id (the VM's uuid unless vm_instance_id is set) and host name -#}
instance-id: {{ vm_instance_id | default(vm_uuid, true) | tojson }}
local-hostname: {{ vm_name | default('vmsrv', true) | tojson }}
