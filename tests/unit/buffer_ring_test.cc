// BufferRing: the bounded producer/consumer buffer set under both stream pipelines.
#include "common/buffer_ring.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

namespace zrep {
namespace {

using namespace std::chrono_literals;

constexpr auto kDeadline = 10s;  // a hang fails the test instead of blocking the run
constexpr auto kStillBlocked = 100ms;

TEST(BufferRingTest, DeliversBuffersInOrderThenEndsOnClose) {
  BufferRing ring(3);
  auto producer = std::async(std::launch::async, [&] {
    std::vector<uint8_t> buffer;
    for (uint8_t i = 0; i < 50; ++i) {
      if (!ring.take_free(buffer)) return;
      buffer.assign(i % 5 + 1, i);
      ring.push_full(std::move(buffer));
    }
    ring.close();
  });
  std::vector<uint8_t> buffer;
  for (uint8_t i = 0; i < 50; ++i) {
    ASSERT_TRUE(ring.pop_full(buffer));
    EXPECT_EQ(buffer, std::vector<uint8_t>(i % 5 + 1, i));
    ring.give_back(std::move(buffer));
  }
  EXPECT_FALSE(ring.pop_full(buffer));
  ASSERT_EQ(producer.wait_for(kDeadline), std::future_status::ready);
  EXPECT_TRUE(ring.status().is_ok());
}

TEST(BufferRingTest, OnlyDepthBuffersExist) {
  BufferRing ring(2);
  std::vector<uint8_t> a, b, c;
  ASSERT_TRUE(ring.take_free(a));
  ASSERT_TRUE(ring.take_free(b));
  auto third = std::async(std::launch::async, [&] { return ring.take_free(c); });
  EXPECT_EQ(third.wait_for(kStillBlocked), std::future_status::timeout);

  ring.push_full(std::move(a));  // queued, not yet consumed: still no free buffer
  EXPECT_EQ(third.wait_for(kStillBlocked), std::future_status::timeout);

  std::vector<uint8_t> popped;
  ASSERT_TRUE(ring.pop_full(popped));
  ring.give_back(std::move(popped));
  ASSERT_EQ(third.wait_for(kDeadline), std::future_status::ready);
  EXPECT_TRUE(third.get());
}

TEST(BufferRingTest, ZeroDepthStillHasOneBuffer) {
  BufferRing ring(0);
  std::vector<uint8_t> buffer;
  EXPECT_TRUE(ring.take_free(buffer));
}

TEST(BufferRingTest, StopWakesBlockedProducerAndConsumer) {
  BufferRing ring(1);
  std::vector<uint8_t> held;
  ASSERT_TRUE(ring.take_free(held));
  auto producer = std::async(std::launch::async, [&] {
    std::vector<uint8_t> buffer;
    return ring.take_free(buffer);
  });
  auto consumer = std::async(std::launch::async, [&] {
    std::vector<uint8_t> buffer;
    return ring.pop_full(buffer);
  });
  EXPECT_EQ(producer.wait_for(kStillBlocked), std::future_status::timeout);
  EXPECT_EQ(consumer.wait_for(kStillBlocked), std::future_status::timeout);

  ring.stop();
  ASSERT_EQ(producer.wait_for(kDeadline), std::future_status::ready);
  ASSERT_EQ(consumer.wait_for(kDeadline), std::future_status::ready);
  EXPECT_FALSE(producer.get());
  EXPECT_FALSE(consumer.get());
  EXPECT_TRUE(ring.stopped());
}

TEST(BufferRingTest, StopDropsQueuedBuffers) {
  BufferRing ring(2);
  std::vector<uint8_t> buffer;
  ASSERT_TRUE(ring.take_free(buffer));
  ring.push_full(std::move(buffer));
  ring.stop();
  EXPECT_EQ(ring.pop_full(buffer, 0ms), BufferRing::Next::kEnd);
  EXPECT_FALSE(ring.pop_full(buffer));
}

TEST(BufferRingTest, CloseDrainsQueuedBuffersThenEndsWithItsStatus) {
  BufferRing ring(4);
  std::vector<uint8_t> buffer;
  EXPECT_EQ(ring.pop_full(buffer, 10ms), BufferRing::Next::kNothingYet);
  for (uint8_t i = 1; i <= 2; ++i) {
    ASSERT_TRUE(ring.take_free(buffer));
    buffer.assign(1, i);
    ring.push_full(std::move(buffer));
  }
  ring.close(make_error(ErrorCode::kInternal, "read failed"));
  ASSERT_EQ(ring.pop_full(buffer, 0ms), BufferRing::Next::kBuffer);
  EXPECT_EQ(buffer, std::vector<uint8_t>{1});
  ASSERT_TRUE(ring.pop_full(buffer));
  EXPECT_EQ(buffer, std::vector<uint8_t>{2});
  EXPECT_EQ(ring.pop_full(buffer, 0ms), BufferRing::Next::kEnd);
  EXPECT_FALSE(ring.pop_full(buffer));
  ASSERT_FALSE(ring.status().is_ok());
  EXPECT_EQ(ring.status().message(), "read failed");
}

TEST(BufferRingTest, CloseWakesBlockedConsumer) {
  BufferRing ring(1);
  auto consumer = std::async(std::launch::async, [&] {
    std::vector<uint8_t> buffer;
    return ring.pop_full(buffer);
  });
  EXPECT_EQ(consumer.wait_for(kStillBlocked), std::future_status::timeout);
  ring.close();
  ASSERT_EQ(consumer.wait_for(kDeadline), std::future_status::ready);
  EXPECT_FALSE(consumer.get());
}

TEST(BufferRingTest, ConsumerFailureStopsProducerAndOutlivesClose) {
  BufferRing ring(1);
  std::vector<uint8_t> buffer;
  ring.fail(make_error(ErrorCode::kInternal, "sink gone"));
  EXPECT_FALSE(ring.take_free(buffer));
  ring.close();  // the producer's orderly end must not hide the consumer's error
  ASSERT_FALSE(ring.status().is_ok());
  EXPECT_EQ(ring.status().message(), "sink gone");
}

}  // namespace
}  // namespace zrep
