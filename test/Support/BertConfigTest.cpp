//===- BertConfigTest.cpp - config.json parsing and writing tests ---------===//
//
// A real bert-base-uncased config, transformers' defaults, one test per
// validation rule (each checking the message names the field), label
// handling, and the writer's round trip.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Support/BertConfig.h"
#include "TestSupport.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace quantbert;
using Json = nlohmann::json;

namespace {

/// bert-base-uncased's config.json as published on the Hugging Face hub.
const char *const kBertBaseUncased = R"({
  "architectures": ["BertForMaskedLM"],
  "attention_probs_dropout_prob": 0.1,
  "gradient_checkpointing": false,
  "hidden_act": "gelu",
  "hidden_dropout_prob": 0.1,
  "hidden_size": 768,
  "initializer_range": 0.02,
  "intermediate_size": 3072,
  "layer_norm_eps": 1e-12,
  "max_position_embeddings": 512,
  "model_type": "bert",
  "num_attention_heads": 12,
  "num_hidden_layers": 12,
  "pad_token_id": 0,
  "position_embedding_type": "absolute",
  "transformers_version": "4.6.0.dev0",
  "type_vocab_size": 2,
  "use_cache": true,
  "vocab_size": 30522
})";

/// The message of parsing bert-base with `key` set to `value` (or removed
/// when `value` is null), which must fail.
std::string errorWith(const std::string &key, const Json &value) {
  Json config = Json::parse(kBertBaseUncased);
  if (value.is_null())
    config.erase(key);
  else
    config[key] = value;
  Expected<BertConfig> parsed = BertConfig::fromJson(config.dump());
  EXPECT_FALSE(parsed) << key << " = " << value.dump() << " was accepted";
  return parsed ? std::string() : parsed.message();
}

TEST(BertConfigTest, ParsesBertBaseUncased) {
  Expected<BertConfig> config = BertConfig::fromJson(kBertBaseUncased);
  ASSERT_TRUE(config) << config.message();
  EXPECT_EQ(config->hiddenSize, 768);
  EXPECT_EQ(config->numHiddenLayers, 12);
  EXPECT_EQ(config->numAttentionHeads, 12);
  EXPECT_EQ(config->headSize(), 64);
  EXPECT_EQ(config->intermediateSize, 3072);
  EXPECT_EQ(config->vocabSize, 30522);
  EXPECT_EQ(config->maxPositionEmbeddings, 512);
  EXPECT_EQ(config->typeVocabSize, 2);
  EXPECT_EQ(config->layerNormEps, 1e-12);
  EXPECT_EQ(config->hiddenAct, HiddenAct::Gelu);
  EXPECT_EQ(config->numLabels, 2);
  EXPECT_TRUE(config->id2label.empty());
  EXPECT_EQ(config->labelName(1), "LABEL_1");
  EXPECT_EQ(config->labelNames(),
            (std::vector<std::string>{"LABEL_0", "LABEL_1"}));
  EXPECT_EQ(config->architectures,
            std::vector<std::string>{"BertForMaskedLM"});
}

TEST(BertConfigTest, AppliesTransformersDefaults) {
  Json config = Json::parse(kBertBaseUncased);
  for (const char *key : {"type_vocab_size", "layer_norm_eps", "hidden_act",
                          "model_type", "architectures"})
    config.erase(key);
  Expected<BertConfig> parsed = BertConfig::fromJson(config.dump());
  ASSERT_TRUE(parsed) << parsed.message();
  EXPECT_EQ(parsed->typeVocabSize, 2);
  EXPECT_EQ(parsed->layerNormEps, 1e-12);
  EXPECT_EQ(parsed->hiddenAct, HiddenAct::Gelu);
}

TEST(BertConfigTest, GeluNewSelectsTanhApproximation) {
  for (const char *name : {"gelu_new", "gelu_pytorch_tanh"}) {
    Json config = Json::parse(kBertBaseUncased);
    config["hidden_act"] = name;
    Expected<BertConfig> parsed = BertConfig::fromJson(config.dump());
    ASSERT_TRUE(parsed) << parsed.message();
    EXPECT_EQ(parsed->hiddenAct, HiddenAct::GeluTanh) << name;
  }
}

TEST(BertConfigTest, NamesEachInvalidField) {
  EXPECT_EQ(errorWith("hidden_size", -3),
            "config.json: field 'hidden_size' must be a positive integer, "
            "got -3");
  EXPECT_EQ(errorWith("num_hidden_layers", 0),
            "config.json: field 'num_hidden_layers' must be a positive "
            "integer, got 0");
  EXPECT_EQ(errorWith("num_attention_heads", "12"),
            "config.json: field 'num_attention_heads' must be a positive "
            "integer, got \"12\"");
  EXPECT_EQ(errorWith("intermediate_size", 3072.5),
            "config.json: field 'intermediate_size' must be a positive "
            "integer, got 3072.5");
  EXPECT_EQ(errorWith("vocab_size", nullptr),
            "config.json: missing field 'vocab_size'");
  EXPECT_EQ(errorWith("max_position_embeddings", true),
            "config.json: field 'max_position_embeddings' must be a positive "
            "integer, got true");
  EXPECT_EQ(errorWith("type_vocab_size", -1),
            "config.json: field 'type_vocab_size' must be a positive integer, "
            "got -1");
  EXPECT_EQ(errorWith("layer_norm_eps", 0),
            "config.json: field 'layer_norm_eps' must be a positive number, "
            "got 0");
  EXPECT_EQ(errorWith("num_attention_heads", 5),
            "config.json: field 'hidden_size' (768) must be divisible by "
            "'num_attention_heads' (5)");
  EXPECT_EQ(errorWith("hidden_act", "relu"),
            "config.json: field 'hidden_act' must be \"gelu\", \"gelu_new\" "
            "or \"gelu_pytorch_tanh\" (the activations quant-bert compiles), "
            "got \"relu\"");
  EXPECT_EQ(errorWith("model_type", "roberta"),
            "config.json: field 'model_type' must be \"bert\", got "
            "\"roberta\"");
  EXPECT_EQ(errorWith("position_embedding_type", "relative_key"),
            "config.json: field 'position_embedding_type' must be "
            "\"absolute\" (the only kind quant-bert supports), got "
            "\"relative_key\"");
  EXPECT_EQ(errorWith("architectures", "BertModel"),
            "config.json: field 'architectures' must be an array of strings, "
            "got \"BertModel\"");
  EXPECT_EQ(errorWith("num_labels", 0),
            "config.json: field 'num_labels' must be a positive integer, "
            "got 0");
}

TEST(BertConfigTest, RejectsMalformedDocuments) {
  Expected<BertConfig> parsed = BertConfig::fromJson("{\"hidden_size\": ");
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.message().rfind("config.json: not valid JSON", 0), 0u)
      << parsed.message();
  EXPECT_EQ(BertConfig::fromJson("[768]").message(),
            "config.json: top level must be a JSON object, got array");
}

TEST(BertConfigTest, DerivesNumLabelsFromId2Label) {
  Json config = Json::parse(kBertBaseUncased);
  config["id2label"] = {{"0", "negative"}, {"1", "neutral"}, {"2", "positive"}};
  config["label2id"] = {{"negative", 0}, {"neutral", 1}, {"positive", 2}};
  Expected<BertConfig> parsed = BertConfig::fromJson(config.dump());
  ASSERT_TRUE(parsed) << parsed.message();
  EXPECT_EQ(parsed->numLabels, 3);
  EXPECT_EQ(parsed->labelName(2), "positive");

  config["num_labels"] = 3;
  EXPECT_TRUE(BertConfig::fromJson(config.dump()));
  config.erase("id2label");
  config.erase("label2id");
  config["num_labels"] = 5;
  parsed = BertConfig::fromJson(config.dump());
  ASSERT_TRUE(parsed) << parsed.message();
  EXPECT_EQ(parsed->numLabels, 5);
}

TEST(BertConfigTest, RejectsInconsistentLabels) {
  Json config = Json::parse(kBertBaseUncased);
  config["id2label"] = {{"0", "a"}, {"1", "b"}};
  config["num_labels"] = 3;
  EXPECT_EQ(BertConfig::fromJson(config.dump()).message(),
            "config.json: field 'num_labels' is 3 but 'id2label' has 2 "
            "entries");
  config.erase("num_labels");
  config["id2label"] = {{"0", "a"}, {"2", "b"}};
  EXPECT_EQ(BertConfig::fromJson(config.dump()).message(),
            "config.json: field 'id2label' must have the keys \"0\" to \"1\", "
            "missing \"1\"");
  config["id2label"] = {{"zero", "a"}};
  EXPECT_EQ(BertConfig::fromJson(config.dump()).message(),
            "config.json: field 'id2label' has key 'zero', expected a class "
            "index \"0\", \"1\", ...");
  config["id2label"] = {{"0", 7}};
  EXPECT_EQ(BertConfig::fromJson(config.dump()).message(),
            "config.json: field 'id2label[\"0\"]' must be a string, got 7");
  config.erase("id2label");
  config["label2id"] = {{"a", -1}};
  EXPECT_EQ(BertConfig::fromJson(config.dump()).message(),
            "config.json: field 'label2id[\"a\"]' must be a non-negative "
            "integer, got -1");
}

TEST(BertConfigTest, WritesTransformersLoadableConfig) {
  BertConfig config;
  config.hiddenSize = 256;
  config.numHiddenLayers = 4;
  config.numAttentionHeads = 4;
  config.intermediateSize = 1024;
  config.hiddenAct = HiddenAct::GeluTanh;
  config.numLabels = 3;
  config.id2label = {{0, "neg"}, {1, "neu"}, {2, "pos"}};
  Json written = Json::parse(config.toJson());
  EXPECT_EQ(written["model_type"], "bert");
  EXPECT_EQ(written["architectures"],
            Json::array({"BertForSequenceClassification"}));
  EXPECT_EQ(written["hidden_act"], "gelu_new");
  EXPECT_EQ(written["hidden_dropout_prob"], 0.1);
  EXPECT_EQ(written["attention_probs_dropout_prob"], 0.1);
  EXPECT_EQ(written["initializer_range"], 0.02);
  EXPECT_EQ(written["pad_token_id"], 0);
  EXPECT_EQ(written["position_embedding_type"], "absolute");
  EXPECT_EQ(written["transformers_version"], "4.30.0");
  EXPECT_EQ(written["id2label"]["2"], "pos");
  EXPECT_EQ(written["label2id"]["neu"], 1);
  EXPECT_FALSE(written.contains("num_labels"))
      << "transformers derives num_labels from id2label";

  Expected<BertConfig> reread = BertConfig::fromJson(config.toJson());
  ASSERT_TRUE(reread) << reread.message();
  EXPECT_EQ(reread->hiddenSize, 256);
  EXPECT_EQ(reread->numHiddenLayers, 4);
  EXPECT_EQ(reread->numAttentionHeads, 4);
  EXPECT_EQ(reread->intermediateSize, 1024);
  EXPECT_EQ(reread->hiddenAct, HiddenAct::GeluTanh);
  EXPECT_EQ(reread->numLabels, 3);
  EXPECT_EQ(reread->id2label, config.id2label);
  EXPECT_EQ(reread->layerNormEps, config.layerNormEps);
  EXPECT_EQ(reread->toJson(), config.toJson());
}

TEST(BertConfigTest, SaveValidatesAndLoadRoundTrips) {
  test::ScratchDir dir;
  std::string path = dir.path() + "/config.json";
  BertConfig config;
  config.numLabels = 4;
  ASSERT_FALSE(config.save(path));
  Expected<BertConfig> loaded = BertConfig::load(path);
  ASSERT_TRUE(loaded) << loaded.message();
  EXPECT_EQ(loaded->numLabels, 4);

  config.numAttentionHeads = 7;
  EXPECT_EQ(config.save(path).message(),
            path + ": field 'hidden_size' (768) must be divisible by "
                   "'num_attention_heads' (7)");
  EXPECT_EQ(BertConfig::load(path)->numAttentionHeads, 12)
      << "a rejected save leaves the old file";
  EXPECT_EQ(BertConfig::load(dir.path() + "/none.json").message(),
            dir.path() + "/none.json: cannot open: No such file or directory");
}

TEST(BertConfigTest, ReadsAndWritesPruning) {
  // transformers writes pruned_heads with string keys; quant-bert adds
  // intermediate_sizes for per-layer FFN widths.
  Json document = Json::parse(kBertBaseUncased);
  document["num_hidden_layers"] = 3;
  document["pruned_heads"] = {{"0", {5, 1}}, {"2", Json::array()}};
  document["intermediate_sizes"] = {3072, 1024, 512};
  Expected<BertConfig> config = BertConfig::fromJson(document.dump());
  ASSERT_TRUE(config) << config.message();
  EXPECT_TRUE(config->isPruned());
  EXPECT_EQ(config->numHeads(0), 10);
  EXPECT_EQ(config->numHeads(1), 12);
  EXPECT_EQ(config->numHeads(2), 12) << "an empty list prunes nothing";
  EXPECT_EQ(config->keptHeads(0),
            (std::vector<int64_t>{0, 2, 3, 4, 6, 7, 8, 9, 10, 11}));
  EXPECT_EQ(config->ffnWidth(1), 1024);
  EXPECT_EQ(config->prunedHeads.size(), 1u);

  Expected<BertConfig> reread = BertConfig::fromJson(config->toJson());
  ASSERT_TRUE(reread) << reread.message();
  EXPECT_EQ(reread->prunedHeads, config->prunedHeads);
  EXPECT_EQ(reread->intermediateSizes, config->intermediateSizes);
  Json written = Json::parse(config->toJson());
  EXPECT_EQ(written["pruned_heads"], Json::parse(R"({"0": [1, 5]})"));

  // An unpruned config writes neither field.
  BertConfig plain;
  plain.intermediateSizes.assign(12, plain.intermediateSize);
  EXPECT_FALSE(plain.isPruned());
  Json unpruned = Json::parse(plain.toJson());
  EXPECT_FALSE(unpruned.contains("pruned_heads"));
  EXPECT_FALSE(unpruned.contains("intermediate_sizes"));
}

TEST(BertConfigTest, NamesInvalidPruning) {
  EXPECT_EQ(errorWith("pruned_heads", Json::array()),
            "config.json: field 'pruned_heads' must be an object mapping "
            "layer indices to lists of head indices, got []");
  EXPECT_EQ(errorWith("pruned_heads", {{"x", {1}}}),
            "config.json: field 'pruned_heads' has key 'x', expected a layer "
            "index \"0\", \"1\", ...");
  EXPECT_EQ(errorWith("pruned_heads", {{"0", 1}}),
            "config.json: field 'pruned_heads[\"0\"]' must be an array of "
            "head indices, got 1");
  EXPECT_EQ(errorWith("pruned_heads", {{"0", {1, 1}}}),
            "config.json: field 'pruned_heads[\"0\"]' must not repeat a head, "
            "got [1,1]");
  EXPECT_EQ(errorWith("pruned_heads", {{"12", {1}}}),
            "config.json: field 'pruned_heads' names layer 12, but the model "
            "has 12 layers");
  EXPECT_EQ(errorWith("pruned_heads", {{"3", {12}}}),
            "config.json: field 'pruned_heads[\"3\"]' names head 12, but "
            "layers have 12 heads");
  EXPECT_EQ(errorWith("pruned_heads",
                      {{"3", {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}}}),
            "config.json: field 'pruned_heads[\"3\"]' prunes every head of "
            "the layer; quant-bert needs at least one");
  EXPECT_EQ(errorWith("intermediate_sizes", {3072, 3072}),
            "config.json: field 'intermediate_sizes' has 2 entries, expected "
            "one per layer (12)");
  EXPECT_EQ(errorWith("intermediate_sizes", Json::array({0})),
            "config.json: field 'intermediate_sizes' must be a positive "
            "integer, got 0");
  Json wide = Json::array();
  for (int i = 0; i < 12; ++i)
    wide.push_back(i == 5 ? 4000 : 3072);
  EXPECT_EQ(errorWith("intermediate_sizes", wide),
            "config.json: field 'intermediate_sizes' must hold positive "
            "integers up to intermediate_size (3072), got 4000");
}

} // namespace
