//===- ContextTest.cpp - Context, status codes and error messages ---------===//
#include "TestSupport.h"

#include <string>
#include <thread>

using namespace quantbert::test;

namespace {

TEST(Context, ZeroThreadsMeansHardwareConcurrency) {
  ContextPtr ctx = makeContext(0);
  ASSERT_TRUE(ctx);
  unsigned expected = std::max(1u, std::thread::hardware_concurrency());
  EXPECT_EQ(qbrt_context_num_threads(ctx.get()), static_cast<int>(expected));
  EXPECT_STREQ(qbrt_last_error(ctx.get()), "");
}

TEST(Context, ExplicitThreadCount) {
  ContextPtr ctx = makeContext(3);
  EXPECT_EQ(qbrt_context_num_threads(ctx.get()), 3);
}

TEST(Context, RejectsNegativeThreadsWithoutContext) {
  qbrt_context *ctx = reinterpret_cast<qbrt_context *>(1);
  EXPECT_EQ(qbrt_context_create(-2, &ctx), QB_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ctx, nullptr);
  EXPECT_NE(std::string(qbrt_last_error(nullptr)).find("num_threads is -2"),
            std::string::npos)
      << qbrt_last_error(nullptr);
  EXPECT_EQ(qbrt_context_create(1, nullptr), QB_ERR_INVALID_ARGUMENT);
}

TEST(Context, NullContextIsReported) {
  float x = 1.0f;
  EXPECT_EQ(qbrt_gelu(nullptr, &x, 1, &x), QB_ERR_INVALID_ARGUMENT);
  EXPECT_NE(
      std::string(qbrt_last_error(nullptr)).find("qbrt_gelu: ctx is NULL"),
      std::string::npos);
}

TEST(Context, LastErrorIsPerThread) {
  ContextPtr ctx = makeContext(2);
  float x = 1.0f;
  EXPECT_EQ(qbrt_gelu(ctx.get(), nullptr, 4, &x), QB_ERR_INVALID_ARGUMENT);
  std::string mine = qbrt_last_error(ctx.get());
  EXPECT_NE(mine.find("qbrt_gelu: input is NULL"), std::string::npos) << mine;
  std::string other;
  std::thread([&] { other = qbrt_last_error(ctx.get()); }).join();
  EXPECT_EQ(other, "");
  EXPECT_EQ(qbrt_last_error(ctx.get()), mine);
}

TEST(Context, StatusStrings) {
  EXPECT_STREQ(qbrt_status_string(QB_OK), "QB_OK");
  EXPECT_STREQ(qbrt_status_string(QB_ERR_INVALID_UTF8), "QB_ERR_INVALID_UTF8");
  EXPECT_STREQ(qbrt_status_string(static_cast<qb_status>(99)),
               "unknown qb_status");
}

} // namespace
