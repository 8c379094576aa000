{#- NoCloud user-data: host name, a sudo user, password (a SHA-512 hash) and ssh keys when given, time zone, locale -#}
#cloud-config
hostname: {{ vm_name | default('vmsrv', true) | tojson }}
{%- if vm_timezone is defined and vm_timezone != '' %}
timezone: {{ vm_timezone | tojson }}
{%- endif %}
{%- if vm_locale is defined and vm_locale != '' %}
locale: {{ vm_locale | tojson }}
{%- endif %}
users:
  - name: {{ vm_user | default('clouduser', true) | tojson }}
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    shell: /bin/bash
    {%- if vm_password is defined and vm_password != '' %}
    lock_passwd: false
    passwd: {{ vm_password | tojson }}
    {%- else %}
    lock_passwd: true
    {%- endif %}
    {%- if vm_sshkey is string and vm_sshkey != '' %}
    ssh_authorized_keys: [{{ vm_sshkey | tojson }}]
    {%- elif vm_sshkey %}
    ssh_authorized_keys: {{ vm_sshkey | tojson }}
    {%- endif %}
