{#- Empty CD-ROM (IDE unless vm_disk_bus says otherwise); put media in with /vm/cdrom -#}
<disk type='file' device='cdrom'>
  <driver name='qemu' type='raw'/>
  <target dev='{{ vm_last_disk }}' bus='{{ vm_disk_bus | default('ide', true) }}'/>
  <readonly/>
</disk>
