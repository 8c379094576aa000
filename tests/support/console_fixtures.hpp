// What the console tests share: a test-driver domain whose "VNC server" is a local TCP port
// (an echo server in the tests), and the check of a websocket refused after its handshake.
#pragma once

#include <memory>
#include <string>

#include "support/ws_client.hpp"

namespace kvmhub::test {

// A test-driver domain whose VNC "server" is the echo server's port, with a logged serial port.
inline constexpr const char* kConsoleDomainTemplate = R"(<domain type='test'>
  <name>console-{{ vm_uuid }}</name>
  <uuid>{{ vm_uuid }}</uuid>
  <memory unit='MiB'>{{ vm_ram_mb }}</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    {%- if vm_vnc_port %}
    <graphics type='vnc' port='{{ vm_vnc_port }}' autoport='no' listen='{{ vm_vnc_listen | default('127.0.0.1', true) }}' passwd='s3cret'/>
    {%- endif %}
    <serial type='pty'>
      <log file='{{ vm_serial_log }}'/>
      <target port='0'/>
    </serial>
  </devices>
</domain>
)";

// Expects the websocket to open and then close at once with `code` and a reason with `text`.
void expect_refused(std::unique_ptr<WsClient> ws, int code, const std::string& text);

}  // namespace kvmhub::test
