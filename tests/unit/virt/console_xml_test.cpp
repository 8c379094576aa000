#include "virt/console_xml.hpp"

#include <gtest/gtest.h>

namespace kvmhub::virt {
namespace {

TEST(ConsoleXml, ReadsGraphicsSerialAndLog) {
    auto info = parse_console_xml(R"(<domain><devices>
      <graphics type='vnc' port='5907' autoport='yes' listen='0.0.0.0' passwd='pw'>
        <listen type='address' address='192.0.2.5'/>
      </graphics>
      <graphics type='spice' port='5908' listen='127.0.0.1'/>
      <graphics type='sdl'/>
      <serial type='pty'><source path='/dev/pts/3'/><log file='/var/log/s.log' append='off'/><target port='0'/></serial>
      <console type='pty'><target type='serial' port='0'/></console>
    </devices></domain>)");
    ASSERT_TRUE(info) << info.error().desc;
    ASSERT_EQ(info->graphics.size(), 2u);
    EXPECT_EQ(info->graphics[0].type, "vnc");
    EXPECT_EQ(info->graphics[0].port, 5907);
    EXPECT_EQ(info->graphics[0].listen, "192.0.2.5") << "the <listen> child wins";
    EXPECT_EQ(info->graphics[0].passwd, "pw");
    EXPECT_EQ(info->graphics[1].type, "spice");
    EXPECT_EQ(info->graphics[1].listen, "127.0.0.1");
    EXPECT_TRUE(info->serial);
    EXPECT_EQ(info->serial_log, "/var/log/s.log");
    EXPECT_FALSE(info->running);
}

TEST(ConsoleXml, NoConsolesAndUnallocatedPorts) {
    auto info = parse_console_xml(
        "<domain><devices><graphics type='vnc' port='-1' autoport='yes'/>"
        "<serial type='file'><source path='/tmp/x'/></serial></devices></domain>");
    ASSERT_TRUE(info);
    ASSERT_EQ(info->graphics.size(), 1u);
    EXPECT_EQ(info->graphics[0].port, -1);
    EXPECT_EQ(info->graphics[0].listen, "");
    EXPECT_FALSE(info->serial) << "only a pty serial is a console";
    EXPECT_FALSE(parse_console_xml("<domain"));
}

}  // namespace
}  // namespace kvmhub::virt
