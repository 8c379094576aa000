// Streamed replies through the real server on a loopback port: chunks reach the client while
// the producer still works, a client that leaves makes write() fail, a throwing producer ends
// with an error line, HTTP/1.0 clients get the body until the connection closes.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "http/server.hpp"
#include "support/raw_socket.hpp"

namespace kvmhub::http {
namespace {

using namespace std::chrono_literals;
using test::RawSocket;

class StreamedReply : public ::testing::Test {
protected:
    void start(Handler handler) {
        config_.listeners = {ListenerConfig{.name = "test", .address = "127.0.0.1", .port = 0}};
        router_.add({Route{Method::Get, "/stream", Access::Public, Effect::Reads, Surface::Admin, std::move(handler), 0}
                         .accepts(Input::none())});
        ASSERT_TRUE(router_.seal().has_value());
        server_ = std::make_unique<Server>(config_, router_, metrics_);
        ASSERT_TRUE(server_->listen().has_value());
        port_ = server_->bound().at(0).port;
        thread_ = std::thread([this] { server_->run(); });
    }
    void TearDown() override {
        if (!server_) return;
        server_->stop();
        thread_.join();
    }

    Config config_;
    Router router_;
    Metrics metrics_;
    std::unique_ptr<Server> server_;
    std::thread thread_;
    int port_ = 0;
};

constexpr const char* kGet = "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n";

TEST_F(StreamedReply, EachWriteReachesTheClientBeforeTheProducerGoesOn) {
    std::promise<void> first_seen;
    auto seen = first_seen.get_future();
    start([&](Request&) {
        return Reply::streamed([&](const StreamWrite& write) {
            write("one\n");
            // The producer goes on only once the client has read the first line.
            if (seen.wait_for(20s) != std::future_status::ready) return;
            write("two\n");
        });
    });
    RawSocket s(port_);
    s.send(kGet);
    auto head = s.read_until("one\n");
    EXPECT_NE(head.find("HTTP/1.1 200"), std::string::npos) << head;
    EXPECT_NE(head.find("Transfer-Encoding: chunked"), std::string::npos) << head;
    EXPECT_NE(head.find("Content-Type: text/event-stream"), std::string::npos) << head;
    EXPECT_NE(head.find("X-Accel-Buffering: no"), std::string::npos) << head;
    EXPECT_EQ(head.find("two"), std::string::npos);
    first_seen.set_value();
    auto rest = s.read_until("0\r\n\r\n");
    EXPECT_NE(rest.find("two\n"), std::string::npos) << rest;
}

TEST_F(StreamedReply, TheConnectionServesTheNextRequestAfterTheStream) {
    start([](Request&) { return Reply::streamed([](const StreamWrite& write) { write("line\n"); }); });
    RawSocket s(port_);
    s.send(std::string(kGet) + kGet);
    auto both = s.read_until("0\r\n\r\nHTTP/1.1 200");
    auto second = s.read_until("0\r\n\r\n");
    EXPECT_NE((both + second).find("line\n"), std::string::npos);
}

TEST_F(StreamedReply, WriteFailsOnceTheClientHasGone) {
    std::promise<bool> outcome;
    start([&](Request&) {
        return Reply::streamed([&](const StreamWrite& write) {
            const auto until = std::chrono::steady_clock::now() + 30s;
            std::string filler(16 * 1024, 'x');
            filler.back() = '\n';
            while (std::chrono::steady_clock::now() < until) {
                if (!write(filler)) {
                    outcome.set_value(false);
                    return;
                }
                std::this_thread::sleep_for(1ms);
            }
            outcome.set_value(true);
        });
    });
    {
        RawSocket s(port_);
        s.send(kGet);
        s.read_until("xxxx");
    }  // the client closes its end
    auto result = outcome.get_future();
    ASSERT_EQ(result.wait_for(40s), std::future_status::ready);
    EXPECT_FALSE(result.get()) << "the producer wrote for 30 s to a client that had left";
}

TEST_F(StreamedReply, AProducerThatThrowsEndsWithAnErrorLine) {
    start([](Request&) {
        return Reply::streamed([](const StreamWrite& write) {
            write("working\n");
            throw std::runtime_error("boom");
        });
    });
    RawSocket s(port_);
    s.send(kGet);
    auto all = s.read_until("0\r\n\r\n");
    EXPECT_NE(all.find("working\n"), std::string::npos) << all;
    EXPECT_NE(all.find(R"("result":"ERR")"), std::string::npos) << all;
    EXPECT_EQ(all.find("boom"), std::string::npos) << "internal details stay in the log";
}

TEST_F(StreamedReply, AnHttp10ClientGetsThePlainBodyUntilClose) {
    start([](Request&) {
        return Reply::streamed([](const StreamWrite& write) {
            write("a\n");
            write("b\n");
        });
    });
    RawSocket s(port_);
    s.send("GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    std::string all;
    ASSERT_TRUE(s.read_until_closed(all, 20s)) << all;
    EXPECT_EQ(all.find("chunked"), std::string::npos) << all;
    EXPECT_EQ(all.substr(all.size() - 4), "a\nb\n") << all;
}

}  // namespace
}  // namespace kvmhub::http
