//===- SharingTest.cpp - ALBERT-style weight sharing tests ----------------===//
//
// The sharing fields of config.json and ALBERT's group formula; a shared
// model storing each group's tensors once (module, checkpoint and ALBERT
// export) and running them in every layer of the group; the group and
// factorized-embedding starts; and the ALBERT export against an independent
// forward pass written from modeling_albert.py's tensor names.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Support/FileIO.h"
#include "quantbert/Support/JsonFields.h"
#include "quantbert/Support/Safetensors.h"
#include "quantbert/Support/SensitivityReport.h"
#include "quantbert/Train/AlbertExport.h"
#include "quantbert/Train/Checkpoint.h"
#include "quantbert/Train/Recipes.h"
#include "quantbert/Train/Sharing.h"
#include "TinyModels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

using namespace quantbert;
using namespace quantbert::train;
using namespace quantbert::train::testing;

namespace {

BertConfig sharedTinyConfig(int64_t layers, int64_t groups, int64_t e) {
  BertConfig config = tinyConfig(2, layers);
  config.numHiddenGroups = groups;
  config.embeddingSize = e;
  return config;
}

std::set<std::string> parameterNames(torch::nn::Module &module) {
  std::set<std::string> names;
  for (const auto &item : module.named_parameters())
    names.insert(item.key());
  return names;
}

TEST(SharingTest, ConfigFieldsAndAlbertGroups) {
  BertConfig config = sharedTinyConfig(4, 3, 16);
  // modeling_albert.py: int(i / (4 / 3)) = 0, 0.75 -> 0, 1.5 -> 1, 2.25 -> 2.
  EXPECT_EQ(config.groupOf(0), 0);
  EXPECT_EQ(config.groupOf(1), 0);
  EXPECT_EQ(config.groupOf(2), 1);
  EXPECT_EQ(config.groupOf(3), 2);
  EXPECT_EQ(config.storedLayers(), 3);
  EXPECT_TRUE(config.isShared());
  EXPECT_TRUE(config.hasEmbeddingProjection());
  Expected<BertConfig> read = BertConfig::fromJson(config.toJson());
  ASSERT_TRUE(read) << read.message();
  EXPECT_EQ(read->numHiddenGroups, 3);
  EXPECT_EQ(read->embeddingSize, 16);
  // Unshared: the fields stay out of config.json.
  BertConfig plain = tinyConfig(2);
  plain.numHiddenGroups = 2;
  plain.embeddingSize = 32;
  EXPECT_EQ(plain.toJson().find("num_hidden_groups"), std::string::npos);
  EXPECT_EQ(plain.toJson().find("embedding_size"), std::string::npos);
  EXPECT_EQ(plain.groupOf(1), 1);

  config.numHiddenGroups = 5;
  EXPECT_EQ(config.validate().message(),
            "config.json: field 'num_hidden_groups' must be a positive "
            "integer up to num_hidden_layers (4), got 5");
  config.numHiddenGroups = 2;
  config.prunedHeads[0] = {1};
  EXPECT_EQ(config.validate().message(),
            "config.json: field 'num_hidden_groups' (2 groups of layers "
            "sharing weights) cannot be combined with pruned_heads or "
            "intermediate_sizes");
  Expected<BertConfig> bad = BertConfig::fromJson(
      R"({"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
          "intermediate_size": 64, "vocab_size": 10,
          "max_position_embeddings": 8, "embedding_size": 0})");
  EXPECT_EQ(bad.message(),
            "config.json: field 'embedding_size' must be a positive integer, "
            "got 0");
}

TEST(SharingTest, SharedTensorStoredOnce) {
  torch::manual_seed(3);
  BertConfig config = sharedTinyConfig(4, 2, 16);
  BertForSequenceClassification model(config);
  std::set<std::string> names = parameterNames(*model);
  EXPECT_TRUE(names.count("bert.encoder.layer.1.output.dense.weight"));
  EXPECT_FALSE(names.count("bert.encoder.layer.2.output.dense.weight"))
      << "layers 2 and 3 run group 1's module";
  EXPECT_TRUE(names.count("bert.encoder.embedding_hidden_mapping_in.weight"));
  EXPECT_EQ(model->bert->embeddings->word_embeddings->weight.size(1), 16);
  EXPECT_EQ(model->bert->encoder->groups, (std::vector<int64_t>{0, 0, 1, 1}));

  // Every layer runs: four traces, and layer 1 repeats layer 0's weights:
  // fed layer 0's output, group 0's module gives layer 1's output.
  TextDataset data = sentimentData(6);
  EncoderInputs inputs = encodeAll(data);
  model->eval();
  torch::NoGradGuard noGrad;
  EncoderOutputs outputs;
  model->forward(inputs, &outputs);
  ASSERT_EQ(outputs.layers.size(), 4u);
  EXPECT_EQ(outputs.embeddingOutput.size(2), 32) << "hidden state 0 is H wide";
  torch::Tensor mask = (1.0 - inputs.attentionMask.to(torch::kFloat32))
                           .unsqueeze(1)
                           .unsqueeze(2) *
                       kMaskedScore;
  LayerTrace trace;
  torch::Tensor again = model->bert->encoder->layer->ptr<BertLayerImpl>(0)
                            ->forward(outputs.layers[0].hiddenStates, mask,
                                      trace);
  EXPECT_TRUE(torch::equal(again, outputs.layers[1].hiddenStates));

  // The checkpoint holds the group's tensors once, and loads back to the
  // same logits.
  std::string dir = scratchDir("shared-checkpoint");
  ASSERT_FALSE(saveCheckpoint(dir, config, *model, QB_BERT_VOCAB));
  Expected<SafetensorsFile> file =
      SafetensorsFile::open(dir + "/model.safetensors");
  ASSERT_TRUE(file) << file.message();
  std::vector<std::string> stored = file->names();
  EXPECT_EQ(std::set<std::string>(stored.begin(), stored.end()), names);
  Expected<BertConfig> loadedConfig = loadCheckpointConfig(dir);
  ASSERT_TRUE(loadedConfig) << loadedConfig.message();
  BertForSequenceClassification loaded(*loadedConfig);
  ASSERT_FALSE(loadCheckpointWeights(dir, *loaded));
  EXPECT_TRUE(torch::equal(logitsOf(loaded, data), logitsOf(model, data)));

  // A recipe quantizes each group once.
  RecipeOptions options;
  options.kind = RecipeKind::Q8Bert;
  Expected<ResolvedRecipe> recipe = resolveRecipe(options, config, nullptr);
  ASSERT_TRUE(recipe) << recipe.message();
  EXPECT_TRUE(recipe->spec.linears.count(
      "bert.encoder.layer.1.attention.self.query"));
  EXPECT_FALSE(recipe->spec.linears.count(
      "bert.encoder.layer.2.attention.self.query"));
  EXPECT_FALSE(applyQatSpec(*model, recipe->spec));
  std::filesystem::remove_all(dir);

  // SensiMix's MP layers are groups: one group needs --mp-layers, and a
  // report of the unshared model's layers is refused.
  BertConfig allShared = sharedTinyConfig(4, 1, 0);
  options.kind = RecipeKind::SensiMix;
  EXPECT_EQ(resolveRecipe(options, allShared, nullptr).message().rfind(
                "the sensimix recipe's default MP layers", 0),
            0u);
  options.mpLayers = 1;
  recipe = resolveRecipe(options, allShared, nullptr);
  ASSERT_TRUE(recipe) << recipe.message();
  EXPECT_EQ(recipe->mpLayers, std::vector<int64_t>{0});
  SensitivityReport unshared;
  for (int64_t layer = 0; layer < 4; ++layer)
    unshared.modules.push_back(
        {layer, BertModule::Ffn, 8192, {{Precision::Binary, 0.1}}, {}});
  EXPECT_EQ(resolveRecipe(options, allShared, &unshared).message(),
            "sensitivity.json measures layer 1, but the weight-shared model "
            "stores 1 layer groups (measure the shared model)");
}

TEST(SharingTest, GradientsReachTheSharedWeightsFromEveryLayer) {
  torch::manual_seed(4);
  BertConfig config = sharedTinyConfig(2, 1, 0);
  BertForSequenceClassification model(config);
  model->eval();
  TextDataset data = sentimentData(4);
  EncoderInputs inputs = encodeAll(data);
  // d(loss)/d(W) of the shared FFN weight equals the sum of the gradients
  // of two unshared copies of it, one per layer.
  model->forward(inputs).sum().backward();
  torch::Tensor shared = model->bert->encoder->layer->ptr<BertLayerImpl>(0)
                             ->intermediate->dense->weight.grad()
                             .clone();
  BertConfig unsharedConfig = tinyConfig(2, 2);
  BertForSequenceClassification unshared(unsharedConfig);
  {
    torch::NoGradGuard noGrad;
    auto from = model->named_parameters();
    for (auto &item : unshared->named_parameters()) {
      std::string name = item.key();
      if (name.rfind("bert.encoder.layer.1.", 0) == 0)
        name.replace(19, 1, "0");
      item.value().copy_(*from.find(name));
    }
  }
  unshared->eval();
  unshared->forward(inputs).sum().backward();
  torch::Tensor sum = torch::zeros_like(shared);
  for (int64_t layer : {0, 1})
    sum += unshared->bert->encoder->layer->ptr<BertLayerImpl>(layer)
               ->intermediate->dense->weight.grad();
  EXPECT_TRUE(torch::allclose(shared, sum, 1e-5, 1e-7));
  EXPECT_GT(shared.abs().sum().item<double>(), 0);
}

TEST(SharingTest, GroupStarts) {
  torch::manual_seed(5);
  BertConfig config = tinyConfig(2, 4);
  BertForSequenceClassification source(config);
  auto weight = [](BertForSequenceClassification &model, int64_t layer) {
    return model->bert->encoder->layer->ptr<BertLayerImpl>(layer)
        ->attention->self->value->weight;
  };
  SharingOptions options;
  options.groups = 2;
  Expected<SharingReport> mean = shareWeights(source, config, options);
  ASSERT_TRUE(mean) << mean.message();
  EXPECT_TRUE(torch::allclose(weight(mean->model, 1),
                              (weight(source, 2) + weight(source, 3)) / 2));
  options.init = GroupInit::First;
  Expected<SharingReport> first = shareWeights(source, config, options);
  ASSERT_TRUE(first) << first.message();
  EXPECT_TRUE(torch::equal(weight(first->model, 1), weight(source, 2)));
  EXPECT_TRUE(torch::equal(first->model->classifier->weight,
                           source->classifier->weight));
  EXPECT_EQ(first->embeddingEnergy, 1);

  // Refusals.
  EXPECT_EQ(shareWeights(first->model, first->config, options).message(),
            "share: the model already shares weights (num_hidden_groups or "
            "embedding_size in its config.json); share the unshared model");
  options.groups = 5;
  EXPECT_EQ(shareWeights(source, config, options).message(),
            "share: --groups 5 for 4 layers (expected 1 to the number of "
            "layers)");
  options.groups = 0;
  options.embeddingSize = 32;
  EXPECT_EQ(shareWeights(source, config, options).message(),
            "share: --embedding-size 32 (expected 1 to hidden_size - 1 = 31)");
  options.embeddingSize = 0;
  EXPECT_FALSE(shareWeights(source, config, options).message().empty())
      << "nothing to share";
  options.groups = 4;
  EXPECT_EQ(shareWeights(source, config, options).message().rfind(
                "share: nothing to share", 0),
            0u)
      << "as many groups as layers shares nothing";
  EXPECT_EQ(parseGroupInit("last").message(),
            "--group-init: unknown value 'last' (expected mean or first)");
  LoadPolicy policy;
  EXPECT_FALSE(
      keepFirstLayers(first->config, 1, policy).message().empty());
}

TEST(SharingTest, FactorizedEmbeddingStartIsTheTablesSvd) {
  torch::manual_seed(6);
  BertConfig config = tinyConfig(2);
  BertForSequenceClassification source(config);
  // Tables of rank 5 after centring each row: the 8 kept dimensions hold
  // them exactly.
  torch::Tensor basis = torch::randn({5, 32});
  {
    torch::NoGradGuard noGrad;
    auto &embeddings = *source->bert->embeddings;
    for (auto *table : {&embeddings.word_embeddings->weight,
                        &embeddings.position_embeddings->weight,
                        &embeddings.token_type_embeddings->weight})
      table->copy_(torch::randn({table->size(0), 5}).mm(basis) + 0.3);
    embeddings.LayerNorm->weight.uniform_(0.5, 1.5);
  }
  SharingOptions options;
  options.embeddingSize = 8;
  Expected<SharingReport> shared = shareWeights(source, config, options);
  ASSERT_TRUE(shared) << shared.message();
  EXPECT_NEAR(shared->embeddingEnergy, 1.0, 1e-9);
  EXPECT_FALSE(shared->config.isShared());
  auto &embeddings = *shared->model->bert->embeddings;
  torch::Tensor mapping =
      shared->model->bert->encoder->embedding_hidden_mapping_in->weight;
  // mapping = diag(gamma) V_E sqrt(H / E), so table V_E^T gives back the
  // centred table.
  torch::Tensor gamma = source->bert->embeddings->LayerNorm->weight;
  torch::Tensor v = mapping / gamma.unsqueeze(1) / std::sqrt(32.0 / 8.0);
  torch::Tensor original = source->bert->embeddings->word_embeddings->weight;
  torch::Tensor centred = original - original.mean(1, true);
  EXPECT_TRUE(torch::allclose(embeddings.word_embeddings->weight.mm(v.t()),
                              centred, 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(
      shared->model->bert->encoder->embedding_hidden_mapping_in->bias,
      source->bert->embeddings->LayerNorm->bias));
}

/// AlbertForSequenceClassification's forward (modeling_albert.py, eval),
/// written from the checkpoint's tensor names and config.json alone.
torch::Tensor albertLogits(const std::string &dir, const EncoderInputs &in) {
  Expected<std::string> text = readFile(dir + "/config.json");
  json_fields::Json config = json_fields::Json::parse(*text);
  Expected<SafetensorsFile> file =
      SafetensorsFile::open(dir + "/model.safetensors");
  auto t = [&](const std::string &name) {
    const TensorInfo *info = file->find(name);
    EXPECT_NE(info, nullptr) << "missing " << name;
    std::vector<float> values = *file->readF32(name);
    return torch::tensor(values).view(info->shape);
  };
  auto linear = [&](const torch::Tensor &x, const std::string &name) {
    return torch::nn::functional::linear(x, t(name + ".weight"),
                                         t(name + ".bias"));
  };
  double eps = config["layer_norm_eps"].get<double>();
  std::string act = config["hidden_act"].get<std::string>();
  EXPECT_TRUE(act == "gelu" || act == "gelu_new") << act;
  auto norm = [&](const torch::Tensor &x, const std::string &name) {
    return torch::layer_norm(x, {x.size(-1)}, t(name + ".weight"),
                             t(name + ".bias"), eps);
  };
  EXPECT_EQ(config["model_type"].get<std::string>(), "albert");
  EXPECT_EQ(config["inner_group_num"].get<int64_t>(), 1);
  int64_t layers = config["num_hidden_layers"].get<int64_t>(),
          groups = config["num_hidden_groups"].get<int64_t>(),
          heads = config["num_attention_heads"].get<int64_t>(),
          hidden = config["hidden_size"].get<int64_t>();
  int64_t d = hidden / heads, batch = in.inputIds.size(0),
          seq = in.inputIds.size(1);
  torch::Tensor positions = torch::arange(seq).unsqueeze(0);
  torch::Tensor x = t("albert.embeddings.word_embeddings.weight")
                        .index_select(0, in.inputIds.flatten())
                        .view({batch, seq, -1}) +
                    t("albert.embeddings.token_type_embeddings.weight")
                        .index_select(0, in.tokenTypeIds.flatten())
                        .view({batch, seq, -1}) +
                    t("albert.embeddings.position_embeddings.weight")
                        .index_select(0, positions.flatten())
                        .unsqueeze(0);
  x = norm(x, "albert.embeddings.LayerNorm");
  x = linear(x, "albert.encoder.embedding_hidden_mapping_in");
  torch::Tensor mask =
      (1.0 - in.attentionMask.to(torch::kFloat32)).view({batch, 1, 1, seq}) *
      -10000.0;
  for (int64_t i = 0; i < layers; ++i) {
    int64_t group = int64_t(double(i) / (double(layers) / double(groups)));
    std::string p = "albert.encoder.albert_layer_groups." +
                    std::to_string(group) + ".albert_layers.0.";
    auto split = [&](const torch::Tensor &y) {
      return y.view({batch, seq, heads, d}).permute({0, 2, 1, 3});
    };
    torch::Tensor q = split(linear(x, p + "attention.query"));
    torch::Tensor k = split(linear(x, p + "attention.key"));
    torch::Tensor v = split(linear(x, p + "attention.value"));
    torch::Tensor probs =
        torch::softmax(q.matmul(k.transpose(-1, -2)) / std::sqrt(double(d)) +
                           mask,
                       -1);
    torch::Tensor context =
        probs.matmul(v).permute({0, 2, 1, 3}).reshape({batch, seq, hidden});
    torch::Tensor attended =
        norm(x + linear(context, p + "attention.dense"), p + "attention.LayerNorm");
    torch::Tensor ffn = linear(
        torch::gelu(linear(attended, p + "ffn"), act == "gelu" ? "none" : "tanh"),
        p + "ffn_output");
    x = norm(ffn + attended, p + "full_layer_layer_norm");
  }
  torch::Tensor pooled =
      torch::tanh(linear(x.select(1, 0), "albert.pooler"));
  return linear(pooled, "classifier");
}

TEST(SharingTest, AlbertExportMatchesAnAlbertForward) {
  torch::manual_seed(7);
  TextDataset data = sentimentData(8);
  EncoderInputs inputs = encodeAll(data);

  struct Case {
    const char *name;
    BertConfig config;
  };
  BertConfig factorized = sharedTinyConfig(4, 2, 16);
  factorized.vocabSize = 30522;
  factorized.lowRank["bert.encoder.layer.1.intermediate.dense"] = 8;
  BertConfig plain = tinyConfig(2, 2);
  plain.vocabSize = 30522;
  BertConfig tanh = sharedTinyConfig(3, 2, 0); // groups {0, 1}, {2}
  tanh.hiddenAct = HiddenAct::GeluTanh;
  for (const Case &c : {Case{"shared", factorized}, Case{"plain", plain},
                        Case{"gelu-tanh", tanh}}) {
    SCOPED_TRACE(c.name);
    BertForSequenceClassification model(c.config);
    initBertWeights(*model);
    std::string dir = scratchDir(std::string("albert-source-") + c.name);
    std::string out = scratchDir(std::string("albert-") + c.name);
    ASSERT_FALSE(saveCheckpoint(dir, c.config, *model, QB_BERT_VOCAB));
    Error err = exportAlbert(dir, out);
    ASSERT_FALSE(err) << err.message();
    torch::Tensor expected = logitsOf(model, data);
    torch::Tensor albert = albertLogits(out, inputs);
    EXPECT_TRUE(torch::allclose(albert, expected, 1e-4, 1e-5))
        << (albert - expected).abs().max().item<double>();
    // One tensor per group: 16 per ALBERT layer, nothing else per layer.
    Expected<SafetensorsFile> file =
        SafetensorsFile::open(out + "/model.safetensors");
    int64_t layerTensors = 0;
    for (const std::string &name : file->names())
      layerTensors += name.find("albert_layer_groups") != std::string::npos;
    EXPECT_EQ(layerTensors, 16 * c.config.storedLayers());
    EXPECT_TRUE(std::filesystem::exists(out + "/vocab.txt"));
    std::filesystem::remove_all(dir);
    std::filesystem::remove_all(out);
  }
  EXPECT_EQ(albertTensorName("bert.encoder.layer.3.output.LayerNorm.bias"),
            "albert.encoder.albert_layer_groups.3.albert_layers.0."
            "full_layer_layer_norm.bias");
  EXPECT_EQ(albertTensorName("bert.pooler.dense.weight"),
            "albert.pooler.weight");
  EXPECT_EQ(albertTensorName("bert.encoder.layer.0.intermediate.dense.down.weight"),
            "");
}

} // namespace
