//===- DataParallelTest.cpp - Data-parallel pieces without a group --------===//
//
// torchrun's environment parsed into a DistributedEnv (and its errors), the
// ranks' slices of a batch, and text inputs padded as for the whole batch.
// DataParallelTest.sh runs the processes themselves.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/DataParallel.h"
#include "quantbert/Train/Trainer.h"

#include <gtest/gtest.h>

#include <map>

using namespace quantbert;
using namespace quantbert::train;

namespace {

Expected<std::optional<DistributedEnv>>
readEnv(const std::map<std::string, std::string> &vars) {
  return readDistributedEnv([&](const char *name) -> const char * {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

TEST(DataParallelTest, EnvironmentOfTorchrun) {
  auto none = readEnv({});
  ASSERT_TRUE(none) << none.message();
  EXPECT_FALSE(*none);

  auto env = readEnv({{"WORLD_SIZE", "4"},
                      {"RANK", "3"},
                      {"LOCAL_RANK", "1"},
                      {"MASTER_ADDR", "10.0.0.2"},
                      {"MASTER_PORT", "1234"},
                      {"QB_DIST_TIMEOUT", "60"}});
  ASSERT_TRUE(env) << env.message();
  ASSERT_TRUE(*env);
  EXPECT_EQ((*env)->worldSize, 4);
  EXPECT_EQ((*env)->rank, 3);
  EXPECT_EQ((*env)->localRank, 1);
  EXPECT_EQ((*env)->masterAddr, "10.0.0.2");
  EXPECT_EQ((*env)->masterPort, 1234);
  EXPECT_EQ((*env)->timeout, std::chrono::seconds(60));

  auto defaults = readEnv({{"WORLD_SIZE", "2"}, {"RANK", "1"}});
  ASSERT_TRUE(defaults) << defaults.message();
  EXPECT_EQ((*defaults)->masterAddr, "127.0.0.1");
  EXPECT_EQ((*defaults)->masterPort, 29500);
  EXPECT_EQ((*defaults)->localRank, 1);
}

TEST(DataParallelTest, EnvironmentErrorsNameTheVariable) {
  struct Case {
    std::map<std::string, std::string> vars;
    std::string message;
  };
  for (const Case &c : std::vector<Case>{
           {{{"RANK", "0"}}, "RANK is set but WORLD_SIZE is not"},
           {{{"WORLD_SIZE", "2"}}, "WORLD_SIZE is set but RANK is not"},
           {{{"WORLD_SIZE", "0"}, {"RANK", "0"}},
            "WORLD_SIZE must be an integer in [1, 65536], got '0'"},
           {{{"WORLD_SIZE", "2x"}, {"RANK", "0"}},
            "WORLD_SIZE must be an integer in [1, 65536], got '2x'"},
           {{{"WORLD_SIZE", "2"}, {"RANK", "-1"}},
            "RANK must be an integer in [0, 1], got '-1'"},
           {{{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_PORT", "0"}},
            "MASTER_PORT must be an integer in [1, 65535], got '0'"},
           {{{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"LOCAL_RANK", "a"}},
            "LOCAL_RANK must be an integer in [0, 65535], got 'a'"},
           {{{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"QB_DIST_TIMEOUT", "0"}},
            "QB_DIST_TIMEOUT must be an integer in [1, 604800], got '0'"},
       }) {
    auto env = readEnv(c.vars);
    ASSERT_FALSE(env) << c.message;
    EXPECT_EQ(env.message(), c.message);
  }
}

TEST(DataParallelTest, RankSlicesCoverTheBatchOnce) {
  for (size_t size : {1, 2, 5, 13}) {
    std::vector<int64_t> batch;
    for (size_t i = 0; i < size; ++i)
      batch.push_back(int64_t(100 + i));
    for (int world : {1, 2, 3}) {
      std::vector<int64_t> joined;
      for (int rank = 0; rank < world; ++rank) {
        std::vector<int64_t> slice = rankSlice(batch, rank, world);
        EXPECT_LE(slice.size(), (size + world - 1) / world);
        EXPECT_GE(slice.size(), size / world);
        joined.insert(joined.end(), slice.begin(), slice.end());
      }
      EXPECT_EQ(joined, batch) << size << " over " << world;
    }
  }
}

TEST(DataParallelTest, SlicesArePaddedAsTheWholeBatch) {
  Expected<Tokenizer> tokenizer = Tokenizer::open(QB_BERT_VOCAB);
  ASSERT_TRUE(tokenizer) << tokenizer.message();
  TextDataset data;
  for (const char *text : {"short", "a much longer sentence than the first",
                           "mid length one"})
    data.examples.push_back(TextExample{text, "", 0});
  auto alone = encodeExamples(*tokenizer, data, {0, 2}, {}, 32);
  auto sliced = encodeExamples(*tokenizer, data, {0, 2}, {0, 1, 2}, 32);
  auto whole = encodeExamples(*tokenizer, data, {0, 1, 2}, {}, 32);
  ASSERT_TRUE(alone && sliced && whole);
  EXPECT_LT(alone->inputIds.size(1), whole->inputIds.size(1));
  EXPECT_EQ(sliced->inputIds.size(1), whole->inputIds.size(1));
  torch::Tensor rows = torch::tensor({0, 2});
  EXPECT_TRUE(torch::equal(sliced->inputIds, whole->inputIds.index_select(0, rows)));
  EXPECT_TRUE(torch::equal(sliced->attentionMask,
                           whole->attentionMask.index_select(0, rows)));
}

} // namespace
