//===- CheckpointTest.cpp - HF names and bit-exact checkpoint round trip --===//
//
// A 2-layer BertForSequenceClassification checkpoint must carry exactly the
// tensors transformers writes for that class (names, dtypes, shapes) and
// load back bit for bit; loading must reject a wrong shape, dtype, a missing
// or an unexpected tensor with an error naming it.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/Checkpoint.h"

#include "quantbert/Support/FileIO.h"
#include "quantbert/Train/BertModel.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <unistd.h>

using namespace quantbert;
using namespace quantbert::train;

namespace {

BertConfig tinyConfig() {
  BertConfig config;
  config.hiddenSize = 32;
  config.numHiddenLayers = 2;
  config.numAttentionHeads = 4;
  config.intermediateSize = 64;
  config.vocabSize = 30522;
  config.maxPositionEmbeddings = 64;
  config.numLabels = 3;
  return config;
}

std::string scratchDir(const std::string &name) {
  std::string dir = std::filesystem::temp_directory_path().string() +
                    "/qb-train-test-" + std::to_string(getpid()) + "-" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

/// transformers 4.x BertForSequenceClassification(hidden 32, 2 layers,
/// intermediate 64, 64 positions, 3 labels).state_dict(), in its order.
std::vector<std::pair<std::string, std::vector<int64_t>>> expectedTensors() {
  std::vector<std::pair<std::string, std::vector<int64_t>>> expected = {
      {"bert.embeddings.word_embeddings.weight", {30522, 32}},
      {"bert.embeddings.position_embeddings.weight", {64, 32}},
      {"bert.embeddings.token_type_embeddings.weight", {2, 32}},
      {"bert.embeddings.LayerNorm.weight", {32}},
      {"bert.embeddings.LayerNorm.bias", {32}}};
  for (int layer = 0; layer < 2; ++layer) {
    std::string p = "bert.encoder.layer." + std::to_string(layer) + ".";
    std::vector<std::pair<std::string, std::vector<int64_t>>> layerTensors = {
        {p + "attention.self.query.weight", {32, 32}},
        {p + "attention.self.query.bias", {32}},
        {p + "attention.self.key.weight", {32, 32}},
        {p + "attention.self.key.bias", {32}},
        {p + "attention.self.value.weight", {32, 32}},
        {p + "attention.self.value.bias", {32}},
        {p + "attention.output.dense.weight", {32, 32}},
        {p + "attention.output.dense.bias", {32}},
        {p + "attention.output.LayerNorm.weight", {32}},
        {p + "attention.output.LayerNorm.bias", {32}},
        {p + "intermediate.dense.weight", {64, 32}},
        {p + "intermediate.dense.bias", {64}},
        {p + "output.dense.weight", {32, 64}},
        {p + "output.dense.bias", {32}},
        {p + "output.LayerNorm.weight", {32}},
        {p + "output.LayerNorm.bias", {32}}};
    expected.insert(expected.end(), layerTensors.begin(), layerTensors.end());
  }
  expected.push_back({"bert.pooler.dense.weight", {32, 32}});
  expected.push_back({"bert.pooler.dense.bias", {32}});
  expected.push_back({"classifier.weight", {3, 32}});
  expected.push_back({"classifier.bias", {3}});
  return expected;
}

TEST(CheckpointTest, SequenceClassificationHasTransformersTensors) {
  BertConfig config = tinyConfig();
  torch::manual_seed(1);
  BertForSequenceClassification model(config);
  initBertWeights(*model);

  // The module tree itself has transformers' names, in its order.
  auto expected = expectedTensors();
  auto params = model->named_parameters();
  ASSERT_EQ(params.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(params[i].key(), expected[i].first);
    EXPECT_EQ(params[i].value().sizes().vec(), expected[i].second)
        << expected[i].first;
  }

  std::string dir = scratchDir("names");
  ASSERT_FALSE(saveCheckpoint(dir, config, *model, QB_BERT_VOCAB));
  Expected<SafetensorsFile> file =
      SafetensorsFile::open(dir + "/model.safetensors");
  ASSERT_TRUE(file) << file.message();
  ASSERT_EQ(file->tensors().size(), expected.size());
  for (const auto &[name, shape] : expected) {
    Expected<const TensorInfo *> info =
        file->requireTensor(name, DType::F32, shape);
    EXPECT_TRUE(info) << info.message();
  }
  Expected<BertConfig> reread = loadCheckpointConfig(dir);
  ASSERT_TRUE(reread) << reread.message();
  EXPECT_EQ(reread->numLabels, 3);
  EXPECT_EQ(reread->numHiddenLayers, 2);
  EXPECT_EQ(*readFile(dir + "/vocab.txt"), *readFile(QB_BERT_VOCAB));
  std::filesystem::remove_all(dir);
}

TEST(CheckpointTest, RoundTripIsBitExact) {
  BertConfig config = tinyConfig();
  torch::manual_seed(2);
  BertForSequenceClassification saved(config);
  initBertWeights(*saved);
  {
    // Values a decimal round trip would not preserve exactly.
    torch::NoGradGuard noGrad;
    saved->classifier->bias.copy_(
        torch::tensor({1.0f / 3.0f, -1e-38f, 3.4028235e38f}));
  }
  std::string dir = scratchDir("roundtrip");
  ASSERT_FALSE(saveCheckpoint(dir, config, *saved, QB_BERT_VOCAB));

  torch::manual_seed(3);
  BertForSequenceClassification loaded(config);
  Error err = loadCheckpointWeights(dir, *loaded);
  ASSERT_FALSE(err) << err.message();
  auto a = saved->named_parameters(), b = loaded->named_parameters();
  for (size_t i = 0; i < a.size(); ++i) {
    torch::Tensor x = a[i].value().contiguous(), y = b[i].value().contiguous();
    ASSERT_EQ(std::memcmp(x.data_ptr<float>(), y.data_ptr<float>(),
                          x.numel() * sizeof(float)),
              0)
        << a[i].key();
  }
  std::filesystem::remove_all(dir);
}

TEST(CheckpointTest, LoadErrorsNameTheTensor) {
  BertConfig config = tinyConfig();
  BertForSequenceClassification model(config);
  auto loadWith = [&](SafetensorsWriter &writer) {
    Expected<SafetensorsFile> file = SafetensorsFile::parse(writer.serialize());
    EXPECT_TRUE(file) << file.message();
    return loadParameters(*model, *file).message();
  };
  {
    SafetensorsWriter writer;
    ASSERT_FALSE(addParameters(writer, *model));
    std::vector<float> extra(4);
    ASSERT_FALSE(writer.add("cls.seq_relationship.bias", DType::F32, {4},
                            extra.data(), 16));
    EXPECT_EQ(loadWith(writer), "unexpected tensor 'cls.seq_relationship.bias' "
                                "(no such parameter in the model)");
  }
  BertConfig wider = config;
  wider.numLabels = 4;
  BertForSequenceClassification other(wider);
  {
    SafetensorsWriter writer;
    ASSERT_FALSE(addParameters(writer, *other));
    EXPECT_EQ(loadWith(writer),
              "tensor 'classifier.weight' has shape [4, 32], expected [3, 32]");
  }
  {
    SafetensorsWriter writer;
    for (auto &item : model->named_parameters()) {
      if (item.key() == "bert.pooler.dense.bias")
        continue;
      torch::Tensor v = item.value().detach().contiguous();
      if (item.key() == "classifier.bias") {
        std::vector<int32_t> ints(3);
        ASSERT_FALSE(writer.add(item.key(), DType::I32, {3}, ints.data(), 12));
        continue;
      }
      ASSERT_FALSE(writer.add(item.key(), DType::F32, v.sizes().vec(),
                              v.data_ptr<float>(), v.numel() * 4));
    }
    EXPECT_EQ(loadWith(writer), "missing tensor 'bert.pooler.dense.bias'");
    LoadPolicy policy{{"bert.pooler."}, {}};
    Expected<SafetensorsFile> file = SafetensorsFile::parse(writer.serialize());
    ASSERT_TRUE(file);
    EXPECT_EQ(loadParameters(*model, *file, policy).message(),
              "tensor 'classifier.bias' has dtype I32, expected F32 (or "
              "F16/BF16)");
  }
}

TEST(CheckpointTest, MaskedLmTiesDecoderAndSkipsItOnSave) {
  BertConfig config = tinyConfig();
  BertForMaskedLM model(config);
  EXPECT_TRUE(model->cls->predictions->decoderWeight.is_same(
      model->bert->embeddings->word_embeddings->weight));
  std::vector<std::string> names;
  for (auto &item : model->named_parameters())
    if (item.key().rfind("cls.", 0) == 0)
      names.push_back(item.key());
  EXPECT_EQ(names, (std::vector<std::string>{
                       "cls.predictions.bias",
                       "cls.predictions.transform.dense.weight",
                       "cls.predictions.transform.dense.bias",
                       "cls.predictions.transform.LayerNorm.weight",
                       "cls.predictions.transform.LayerNorm.bias"}));
  EXPECT_EQ(model->named_parameters().find("bert.pooler.dense.weight"), nullptr);
}

} // namespace
