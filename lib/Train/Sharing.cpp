//===- Sharing.cpp - ALBERT-style weight sharing of a BERT encoder --------===//

#include "quantbert/Train/Sharing.h"

#include <cmath>
#include <map>
#include <vector>

namespace quantbert::train {

namespace {

const std::string kLayerPrefix = "bert.encoder.layer.";

/// "bert.encoder.layer.<g>.rest" -> (g, "rest"); (-1, "") otherwise.
std::pair<int64_t, std::string> splitLayerName(const std::string &name) {
  if (name.rfind(kLayerPrefix, 0) != 0)
    return {-1, ""};
  size_t dot = name.find('.', kLayerPrefix.size());
  return {std::stoll(name.substr(kLayerPrefix.size(), dot - kLayerPrefix.size())),
          name.substr(dot + 1)};
}

} // namespace

Expected<GroupInit> parseGroupInit(const std::string &name) {
  if (name == "mean")
    return GroupInit::Mean;
  if (name == "first")
    return GroupInit::First;
  return Error::failure("--group-init: unknown value '" + name +
                        "' (expected mean or first)");
}

Expected<BertConfig> sharedConfig(const BertConfig &config,
                                  const SharingOptions &options) {
  if ((options.groups == 0 || options.groups == config.numHiddenLayers) &&
      options.embeddingSize == 0)
    return Error::failure("share: nothing to share (give --groups below the "
                          "number of layers, --embedding-size below "
                          "hidden_size, or both)");
  if (config.isShared() || config.hasEmbeddingProjection())
    return Error::failure("share: the model already shares weights "
                          "(num_hidden_groups or embedding_size in its "
                          "config.json); share the unshared model");
  if (config.isPruned() || !config.lowRank.empty())
    return Error::failure("share: the model is pruned or factorized; share "
                          "first, then factorize (layers with different "
                          "shapes or ranks cannot share one module)");
  if (options.groups < 0 || options.groups > config.numHiddenLayers)
    return Error::failure("share: --groups " + std::to_string(options.groups) +
                          " for " +
                          std::to_string(config.numHiddenLayers) +
                          " layers (expected 1 to the number of layers)");
  if (options.embeddingSize < 0 || options.embeddingSize >= config.hiddenSize)
    return Error::failure("share: --embedding-size " +
                          std::to_string(options.embeddingSize) +
                          " (expected 1 to hidden_size - 1 = " +
                          std::to_string(config.hiddenSize - 1) + ")");
  BertConfig shared = config;
  if (options.groups > 0 && options.groups < config.numHiddenLayers)
    shared.numHiddenGroups = options.groups;
  shared.embeddingSize = options.embeddingSize;
  if (Error err = shared.validate("share"))
    return err;
  return shared;
}

Expected<SharingReport> shareWeights(BertForSequenceClassification &source,
                                     const BertConfig &config,
                                     const SharingOptions &options) {
  Expected<BertConfig> shared = sharedConfig(config, options);
  if (!shared)
    return shared.error();
  SharingReport report;
  report.config = *shared;
  report.model = BertForSequenceClassification(report.config);
  torch::NoGradGuard noGrad;
  auto from = source->named_parameters();
  auto sourceTensor = [&](const std::string &name) -> Expected<torch::Tensor> {
    if (const torch::Tensor *tensor = from.find(name))
      return *tensor;
    return Error::failure("share: the source model has no tensor '" + name +
                          "'");
  };

  // The factorized embedding's start (Sharing.h).
  std::map<std::string, torch::Tensor> embedding;
  if (report.config.hasEmbeddingProjection()) {
    int64_t e = report.config.embeddingWidth(), h = config.hiddenSize;
    const char *tables[] = {"bert.embeddings.word_embeddings.weight",
                            "bert.embeddings.position_embeddings.weight",
                            "bert.embeddings.token_type_embeddings.weight"};
    std::vector<torch::Tensor> centred;
    for (const char *name : tables) {
      Expected<torch::Tensor> table = sourceTensor(name);
      if (!table)
        return table.error();
      torch::Tensor t = table->to(torch::kFloat64);
      centred.push_back(t - t.mean(1, /*keepdim=*/true));
    }
    auto [u, s, vh] =
        torch::linalg::svd(torch::cat(centred, 0), false, c10::nullopt);
    torch::Tensor basis = vh.slice(0, 0, e).t(); // [H, E]
    torch::Tensor energy = s.pow(2);
    report.embeddingEnergy =
        (energy.slice(0, 0, e).sum() / energy.sum()).item<double>();
    auto dtype = sourceTensor(tables[0])->scalar_type();
    for (size_t i = 0; i < 3; ++i)
      embedding[tables[i]] = centred[i].mm(basis).to(dtype);
    Expected<torch::Tensor> gamma =
        sourceTensor("bert.embeddings.LayerNorm.weight");
    Expected<torch::Tensor> beta =
        sourceTensor("bert.embeddings.LayerNorm.bias");
    if (!gamma || !beta)
      return !gamma ? gamma.error() : beta.error();
    embedding["bert.encoder.embedding_hidden_mapping_in.weight"] =
        (gamma->to(torch::kFloat64).unsqueeze(1) * basis *
         std::sqrt(double(h) / double(e)))
            .to(dtype);
    embedding["bert.encoder.embedding_hidden_mapping_in.bias"] =
        beta->clone();
    embedding["bert.embeddings.LayerNorm.weight"] =
        torch::ones({e}, gamma->options());
    embedding["bert.embeddings.LayerNorm.bias"] =
        torch::zeros({e}, beta->options());
  }

  for (auto &item : report.model->named_parameters()) {
    const std::string &name = item.key();
    torch::Tensor start;
    if (auto it = embedding.find(name); it != embedding.end()) {
      start = it->second;
    } else if (auto [group, rest] = splitLayerName(name); group >= 0) {
      std::vector<torch::Tensor> members;
      for (int64_t layer = 0; layer < config.numHiddenLayers; ++layer) {
        if (report.config.groupOf(layer) != group)
          continue;
        Expected<torch::Tensor> tensor =
            sourceTensor(kLayerPrefix + std::to_string(layer) + "." + rest);
        if (!tensor)
          return tensor.error();
        members.push_back(*tensor);
        if (options.init == GroupInit::First)
          break;
      }
      start = torch::stack(members).mean(0);
    } else {
      Expected<torch::Tensor> tensor = sourceTensor(name);
      if (!tensor)
        return tensor.error();
      start = *tensor;
    }
    if (start.sizes() != item.value().sizes())
      return Error::failure("share: tensor '" + name + "' is " +
                            c10::str(start.sizes()) + " in the source model, " +
                            c10::str(item.value().sizes()) + " in the shared");
    item.value().copy_(start);
  }
  return report;
}

} // namespace quantbert::train
