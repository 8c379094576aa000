#include "support/console_fixtures.hpp"

#include <gtest/gtest.h>

namespace kvmhub::test {

void expect_refused(std::unique_ptr<WsClient> ws, int code, const std::string& text) {
    ASSERT_NE(ws, nullptr) << "the websocket handshake failed";
    ASSERT_TRUE(ws->wait_closed(std::chrono::seconds(20)));
    EXPECT_EQ(ws->close_code(), code) << ws->close_reason();
    EXPECT_NE(ws->close_reason().find(text), std::string::npos) << ws->close_reason();
}

}  // namespace kvmhub::test
