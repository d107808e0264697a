#include "agent/rpc/conn_limits.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace zrep {
namespace {

using namespace std::chrono_literals;

TEST(SlotCounter, BoundsEachKeyAndAllKeys) {
  auto c = SlotCounter::create(5, 2);
  SlotCounter::Refusal why = SlotCounter::Refusal::kNone;
  auto a1 = c->try_acquire("10.0.0.1");
  auto a2 = c->try_acquire("10.0.0.1");
  ASSERT_TRUE(a1 && a2);
  EXPECT_FALSE(c->try_acquire("10.0.0.1", &why)) << "a third slot for one key";
  EXPECT_EQ(why, SlotCounter::Refusal::kPerKey);
  // Another key still gets slots while the first is full.
  auto b1 = c->try_acquire("10.0.0.2");
  auto b2 = c->try_acquire("10.0.0.2");
  auto c1 = c->try_acquire("10.0.0.3");
  ASSERT_TRUE(b1 && b2 && c1);
  EXPECT_EQ(c->held(), 5);
  EXPECT_FALSE(c->try_acquire("10.0.0.4", &why)) << "over the global limit";
  EXPECT_EQ(why, SlotCounter::Refusal::kGlobal);
  // Giving a slot back frees it for anyone.
  a1.reset();
  EXPECT_EQ(c->held("10.0.0.1"), 1);
  auto d1 = c->try_acquire("10.0.0.4", &why);
  EXPECT_TRUE(d1);
  EXPECT_EQ(why, SlotCounter::Refusal::kNone);
  EXPECT_FALSE(c->try_acquire("10.0.0.1"));
}

TEST(SlotCounter, SlotsOutliveNothingAndCountersForgetFreedKeys) {
  auto c = SlotCounter::create(2, 2);
  std::shared_ptr<SlotCounter::Slot> kept = c->try_acquire("x");
  std::weak_ptr<SlotCounter> weak = c;
  c.reset();
  EXPECT_FALSE(weak.expired()) << "a slot keeps its counter alive";
  kept.reset();
  EXPECT_TRUE(weak.expired());

  auto d = SlotCounter::create(2, 1);
  d->try_acquire("y").reset();
  EXPECT_EQ(d->held("y"), 0);
  EXPECT_EQ(d->held(), 0);
}

// A burst from many threads at once never holds more than the limits (checked and counted in
// one step).
TEST(SlotCounter, ABurstDoesNotOvershoot) {
  auto c = SlotCounter::create(16, 4);
  std::atomic<int> max_seen{0}, max_key0{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string key = std::to_string((t + i) % 3);
        auto slot = c->try_acquire(key);
        if (!slot) continue;
        int now = c->held();
        int prev = max_seen.load();
        while (now > prev && !max_seen.compare_exchange_weak(prev, now)) {
        }
        int k0 = c->held("0");
        prev = max_key0.load();
        while (k0 > prev && !max_key0.compare_exchange_weak(prev, k0)) {
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(max_seen.load(), 12);  // 3 keys of at most 4 each, under the global 16
  EXPECT_LE(max_key0.load(), 4);
  EXPECT_EQ(c->held(), 0);
}

TEST(AcceptBackoff, DoublesToTheCapAndResetsOnSuccess) {
  AcceptBackoff b(100ms, 1000ms);
  EXPECT_EQ(b.failed(), 100ms);
  EXPECT_EQ(b.failed(), 200ms);
  EXPECT_EQ(b.failed(), 400ms);
  EXPECT_EQ(b.failed(), 800ms);
  EXPECT_EQ(b.failed(), 1000ms);
  EXPECT_EQ(b.failed(), 1000ms);
  b.succeeded();
  EXPECT_EQ(b.failed(), 100ms);
}

TEST(LogThrottle, OneMessagePerIntervalCountingTheRest) {
  LogThrottle t(1000ms);
  auto t0 = LogThrottle::Clock::now();
  int suppressed = -1;
  EXPECT_TRUE(t.allow(t0, &suppressed));
  EXPECT_EQ(suppressed, 0);
  for (int i = 1; i <= 500; ++i) EXPECT_FALSE(t.allow(t0 + std::chrono::milliseconds(i)));
  EXPECT_TRUE(t.allow(t0 + 1000ms, &suppressed));
  EXPECT_EQ(suppressed, 500);
  EXPECT_FALSE(t.allow(t0 + 1500ms));
}

}  // namespace
}  // namespace zrep
