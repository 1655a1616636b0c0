//===- BertConfig.cpp - Hugging Face BERT config.json ---------------------===//
//
// Field-by-field parsing of config.json with transformers' defaults, the
// cross-field checks, and the writer. Unknown keys (dropout rates,
// initializer_range, torch_dtype, ...) are accepted and ignored on read:
// they do not change inference, and transformers adds new ones over time.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Support/BertConfig.h"
#include "quantbert/Support/FileIO.h"
#include "quantbert/Support/JsonFields.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

using namespace quantbert;
using namespace quantbert::json_fields;

namespace {

/// Parses an id2label key ("0", "1", ...) as a class index.
bool parseLabelIndex(const std::string &key, int64_t &index) {
  if (key.empty() || key.size() > 18 ||
      key.find_first_not_of("0123456789") != std::string::npos)
    return false;
  index = std::strtoll(key.c_str(), nullptr, 10);
  return true;
}

Expected<BertConfig> parseConfig(const Json &root, const std::string &source) {
  std::string where = source + ": ";
  BertConfig config;

  if (root.contains("model_type")) {
    const Json &modelType = root["model_type"];
    if (!modelType.is_string() || modelType.get<std::string>() != "bert")
      return fieldError(where, "model_type", "must be \"bert\"", modelType);
  }
  if (root.contains("architectures")) {
    const Json &architectures = root["architectures"];
    if (!architectures.is_array())
      return fieldError(where, "architectures", "must be an array of strings",
                        architectures);
    for (const Json &name : architectures) {
      if (!name.is_string())
        return fieldError(where, "architectures",
                          "must be an array of strings", architectures);
      config.architectures.push_back(name.get<std::string>());
    }
  }

  struct SizeField {
    const char *key;
    int64_t *value;
    bool required;
  };
  const SizeField sizes[] = {
      {"hidden_size", &config.hiddenSize, true},
      {"num_hidden_layers", &config.numHiddenLayers, true},
      {"num_attention_heads", &config.numAttentionHeads, true},
      {"intermediate_size", &config.intermediateSize, true},
      {"vocab_size", &config.vocabSize, true},
      {"max_position_embeddings", &config.maxPositionEmbeddings, true},
      {"type_vocab_size", &config.typeVocabSize, false},
  };
  for (const SizeField &field : sizes) {
    if (!root.contains(field.key)) {
      if (field.required)
        return missingField(where, field.key);
      continue;
    }
    Expected<int64_t> value = readInteger(root[field.key], where, field.key, 1);
    if (!value)
      return value.error();
    *field.value = *value;
  }

  if (root.contains("layer_norm_eps")) {
    Expected<double> eps =
        readNumber(root["layer_norm_eps"], where, "layer_norm_eps", true);
    if (!eps)
      return eps.error();
    config.layerNormEps = *eps;
  }

  if (root.contains("hidden_act")) {
    const Json &act = root["hidden_act"];
    std::string name = act.is_string() ? act.get<std::string>() : "";
    if (name == "gelu")
      config.hiddenAct = HiddenAct::Gelu;
    else if (name == "gelu_new" || name == "gelu_pytorch_tanh")
      config.hiddenAct = HiddenAct::GeluTanh;
    else
      return fieldError(where, "hidden_act",
                        "must be \"gelu\", \"gelu_new\" or "
                        "\"gelu_pytorch_tanh\" (the activations quant-bert "
                        "compiles)",
                        act);
  }

  if (root.contains("position_embedding_type")) {
    const Json &type = root["position_embedding_type"];
    if (!type.is_string() || type.get<std::string>() != "absolute")
      return fieldError(where, "position_embedding_type",
                        "must be \"absolute\" (the only kind quant-bert "
                        "supports)",
                        type);
  }

  if (root.contains("id2label")) {
    const Json &labels = root["id2label"];
    if (!labels.is_object())
      return fieldError(where, "id2label",
                        "must be an object mapping class indices to names",
                        labels);
    for (const auto &[key, name] : labels.items()) {
      int64_t index;
      if (!parseLabelIndex(key, index))
        return Error::failure(where + "field 'id2label' has key '" + key +
                              "', expected a class index \"0\", \"1\", ...");
      if (!name.is_string())
        return fieldError(where, "id2label[\"" + key + "\"]",
                          "must be a string", name);
      config.id2label[index] = name.get<std::string>();
    }
  }
  if (root.contains("label2id")) {
    // transformers keys everything off id2label; label2id is only its
    // inverse, so it is type-checked and otherwise regenerated on write.
    const Json &ids = root["label2id"];
    if (!ids.is_object())
      return fieldError(where, "label2id",
                        "must be an object mapping names to class indices",
                        ids);
    for (const auto &[name, index] : ids.items()) {
      Expected<int64_t> checked =
          readInteger(index, where, "label2id[\"" + name + "\"]", 0);
      if (!checked)
        return checked.error();
    }
  }

  if (root.contains("pruned_heads")) {
    // transformers writes {"layer": [head, ...]} (json keys are strings) and
    // {} when nothing is pruned.
    const Json &pruned = root["pruned_heads"];
    if (!pruned.is_object())
      return fieldError(where, "pruned_heads",
                        "must be an object mapping layer indices to lists of "
                        "head indices",
                        pruned);
    for (const auto &[key, heads] : pruned.items()) {
      int64_t layer;
      if (!parseLabelIndex(key, layer))
        return Error::failure(where + "field 'pruned_heads' has key '" + key +
                              "', expected a layer index \"0\", \"1\", ...");
      std::string field = "pruned_heads[\"" + key + "\"]";
      if (!heads.is_array())
        return fieldError(where, field, "must be an array of head indices",
                          heads);
      std::vector<int64_t> &list = config.prunedHeads[layer];
      for (const Json &head : heads) {
        Expected<int64_t> index = readInteger(head, where, field, 0);
        if (!index)
          return index.error();
        list.push_back(*index);
      }
      std::sort(list.begin(), list.end());
      if (std::adjacent_find(list.begin(), list.end()) != list.end())
        return fieldError(where, field, "must not repeat a head", heads);
      if (list.empty())
        config.prunedHeads.erase(layer);
    }
  }

  if (root.contains("intermediate_sizes")) {
    const Json &widths = root["intermediate_sizes"];
    if (!widths.is_array())
      return fieldError(where, "intermediate_sizes",
                        "must be an array of one FFN width per layer", widths);
    for (const Json &width : widths) {
      Expected<int64_t> value =
          readInteger(width, where, "intermediate_sizes", 1);
      if (!value)
        return value.error();
      config.intermediateSizes.push_back(*value);
    }
  }

  if (root.contains("low_rank_linears")) {
    const Json &linears = root["low_rank_linears"];
    if (!linears.is_object())
      return fieldError(where, "low_rank_linears",
                        "must be an object mapping module paths to ranks",
                        linears);
    for (const auto &[module, rank] : linears.items()) {
      Expected<int64_t> value = readInteger(
          rank, where, "low_rank_linears[\"" + module + "\"]", 1);
      if (!value)
        return value.error();
      config.lowRank[module] = *value;
    }
  }

  // ALBERT's weight-sharing fields (BertConfig.h).
  for (auto [key, value] : {std::pair{"embedding_size", &config.embeddingSize},
                            std::pair{"num_hidden_groups",
                                      &config.numHiddenGroups}}) {
    if (!root.contains(key))
      continue;
    Expected<int64_t> read = readInteger(root[key], where, key, 1);
    if (!read)
      return read.error();
    *value = *read;
  }

  if (root.contains("num_labels")) {
    Expected<int64_t> numLabels =
        readInteger(root["num_labels"], where, "num_labels", 1);
    if (!numLabels)
      return numLabels.error();
    config.numLabels = *numLabels;
    if (!config.id2label.empty() &&
        static_cast<int64_t>(config.id2label.size()) != config.numLabels)
      return Error::failure(where + "field 'num_labels' is " +
                            std::to_string(config.numLabels) +
                            " but 'id2label' has " +
                            std::to_string(config.id2label.size()) +
                            " entries");
  } else if (!config.id2label.empty()) {
    config.numLabels = static_cast<int64_t>(config.id2label.size());
  }

  if (Error err = config.validate(source))
    return err;
  return config;
}

} // namespace

Expected<BertConfig> BertConfig::fromJson(std::string_view text,
                                          const std::string &source) {
  return parseDocument<BertConfig>(text, source, parseConfig);
}

Expected<BertConfig> BertConfig::load(const std::string &path) {
  Expected<std::string> text = readFile(path);
  if (!text)
    return text.error();
  return fromJson(*text, path);
}

Error BertConfig::validate(const std::string &source) const {
  std::string where = source + ": ";
  const std::pair<const char *, int64_t> sizes[] = {
      {"hidden_size", hiddenSize},
      {"num_hidden_layers", numHiddenLayers},
      {"num_attention_heads", numAttentionHeads},
      {"intermediate_size", intermediateSize},
      {"vocab_size", vocabSize},
      {"max_position_embeddings", maxPositionEmbeddings},
      {"type_vocab_size", typeVocabSize},
      {"num_labels", numLabels},
  };
  for (const auto &[key, value] : sizes)
    if (value <= 0)
      return fieldError(where, key, "must be a positive integer", value);
  if (hiddenSize % numAttentionHeads != 0)
    return Error::failure(where + "field 'hidden_size' (" +
                          std::to_string(hiddenSize) +
                          ") must be divisible by 'num_attention_heads' (" +
                          std::to_string(numAttentionHeads) + ")");
  if (!(layerNormEps > 0) || !std::isfinite(layerNormEps))
    return fieldError(where, "layer_norm_eps", "must be a positive number",
                      layerNormEps);
  if (!id2label.empty()) {
    int64_t expected = 0;
    for (const auto &entry : id2label) {
      if (entry.first != expected)
        return Error::failure(where + "field 'id2label' must have the keys "
                                      "\"0\" to \"" +
                              std::to_string(id2label.size() - 1) +
                              "\", missing \"" + std::to_string(expected) +
                              "\"");
      ++expected;
    }
    if (static_cast<int64_t>(id2label.size()) != numLabels)
      return Error::failure(where + "field 'num_labels' is " +
                            std::to_string(numLabels) + " but 'id2label' has " +
                            std::to_string(id2label.size()) + " entries");
  }
  if (embeddingSize < 0)
    return fieldError(where, "embedding_size", "must be a positive integer",
                      embeddingSize);
  if (numHiddenGroups < 0 || numHiddenGroups > numHiddenLayers)
    return fieldError(where, "num_hidden_groups",
                      "must be a positive integer up to num_hidden_layers (" +
                          std::to_string(numHiddenLayers) + ")",
                      numHiddenGroups);
  if (isShared() && (!prunedHeads.empty() || !intermediateSizes.empty()))
    return Error::failure(where + "field 'num_hidden_groups' (" +
                          std::to_string(numHiddenGroups) +
                          " groups of layers sharing weights) cannot be "
                          "combined with pruned_heads or intermediate_sizes");
  for (const auto &[layer, heads] : prunedHeads) {
    std::string field = "pruned_heads[\"" + std::to_string(layer) + "\"]";
    if (layer < 0 || layer >= numHiddenLayers)
      return Error::failure(where + "field 'pruned_heads' names layer " +
                            std::to_string(layer) + ", but the model has " +
                            std::to_string(numHiddenLayers) + " layers");
    for (int64_t head : heads)
      if (head < 0 || head >= numAttentionHeads)
        return Error::failure(where + "field '" + field + "' names head " +
                              std::to_string(head) + ", but layers have " +
                              std::to_string(numAttentionHeads) + " heads");
    if (int64_t(heads.size()) >= numAttentionHeads)
      return Error::failure(
          where + "field '" + field +
          "' prunes every head of the layer; quant-bert needs at least one");
  }
  if (!intermediateSizes.empty()) {
    if (int64_t(intermediateSizes.size()) != numHiddenLayers)
      return Error::failure(where + "field 'intermediate_sizes' has " +
                            std::to_string(intermediateSizes.size()) +
                            " entries, expected one per layer (" +
                            std::to_string(numHiddenLayers) + ")");
    for (int64_t width : intermediateSizes)
      if (width <= 0 || width > intermediateSize)
        return fieldError(where, "intermediate_sizes",
                          "must hold positive integers up to "
                          "intermediate_size (" +
                              std::to_string(intermediateSize) + ")",
                          width);
  }
  for (const auto &[module, rank] : lowRank) {
    // bert.encoder.layer.N.<one of the six encoder linears>
    const std::string prefix = "bert.encoder.layer.";
    size_t dot = module.find('.', prefix.size());
    bool known = module.rfind(prefix, 0) == 0 && dot != std::string::npos;
    int64_t layer = -1;
    // The linear's (out, in), from the layer's heads and FFN width.
    int64_t out = 0, in = 0;
    if (known) {
      std::string digits = module.substr(prefix.size(), dot - prefix.size());
      known = parseLabelIndex(digits, layer) && layer < storedLayers() &&
              digits == std::to_string(layer);
      std::string linear = module.substr(dot + 1);
      int64_t heads = known ? numHeads(layer) * headSize() : 0;
      int64_t ffn = known ? ffnWidth(layer) : 0;
      if (linear == "attention.self.query" || linear == "attention.self.key" ||
          linear == "attention.self.value")
        out = heads, in = hiddenSize;
      else if (linear == "attention.output.dense")
        out = hiddenSize, in = heads;
      else if (linear == "intermediate.dense")
        out = ffn, in = hiddenSize;
      else if (linear == "output.dense")
        out = hiddenSize, in = ffn;
      else
        known = false;
    }
    if (!known)
      return Error::failure(
          where + "field 'low_rank_linears' names '" + module +
          "', not an encoder linear (bert.encoder.layer.N.attention.self."
          "query, ..., output.dense) of a stored layer below " +
          std::to_string(storedLayers()));
    if (rank <= 0)
      return fieldError(where, "low_rank_linears[\"" + module + "\"]",
                        "must be a positive integer", rank);
    if (rank > std::min(out, in))
      return fieldError(where, "low_rank_linears[\"" + module + "\"]",
                        "must be at most the linear's smaller side (" +
                            std::to_string(std::min(out, in)) + ")",
                        rank);
  }
  return Error::success();
}

int64_t BertConfig::groupOf(int64_t layer) const {
  if (!isShared())
    return layer;
  // modeling_albert.py: int(i / (num_hidden_layers / num_hidden_groups)),
  // in double precision as Python computes it.
  return int64_t(double(layer) /
                 (double(numHiddenLayers) / double(numHiddenGroups)));
}

int64_t BertConfig::rankOf(const std::string &module) const {
  auto it = lowRank.find(module);
  return it == lowRank.end() ? 0 : it->second;
}

int64_t BertConfig::numHeads(int64_t layer) const {
  auto it = prunedHeads.find(layer);
  return numAttentionHeads -
         (it == prunedHeads.end() ? 0 : int64_t(it->second.size()));
}

std::vector<int64_t> BertConfig::keptHeads(int64_t layer) const {
  auto it = prunedHeads.find(layer);
  std::vector<int64_t> kept;
  for (int64_t head = 0; head < numAttentionHeads; ++head)
    if (it == prunedHeads.end() ||
        !std::binary_search(it->second.begin(), it->second.end(), head))
      kept.push_back(head);
  return kept;
}

int64_t BertConfig::ffnWidth(int64_t layer) const {
  return intermediateSizes.empty() ? intermediateSize
                                   : intermediateSizes.at(size_t(layer));
}

bool BertConfig::isPruned() const {
  if (!prunedHeads.empty())
    return true;
  for (int64_t width : intermediateSizes)
    if (width != intermediateSize)
      return true;
  return false;
}

std::string BertConfig::labelName(int64_t index) const {
  auto it = id2label.find(index);
  return it != id2label.end() ? it->second : "LABEL_" + std::to_string(index);
}

std::vector<std::string> BertConfig::labelNames() const {
  std::vector<std::string> names;
  for (int64_t i = 0; i < numLabels; ++i)
    names.push_back(labelName(i));
  return names;
}

std::string BertConfig::toJson() const {
  Json labels = Json::object();
  Json ids = Json::object();
  for (int64_t i = 0; i < numLabels; ++i) {
    labels[std::to_string(i)] = labelName(i);
    ids[labelName(i)] = i;
  }
  Json root = {
      {"architectures",
       architectures.empty()
           ? std::vector<std::string>{"BertForSequenceClassification"}
           : architectures},
      {"attention_probs_dropout_prob", 0.1},
      {"classifier_dropout", nullptr},
      {"hidden_act", hiddenAct == HiddenAct::Gelu ? "gelu" : "gelu_new"},
      {"hidden_dropout_prob", 0.1},
      {"hidden_size", hiddenSize},
      {"id2label", labels},
      {"initializer_range", 0.02},
      {"intermediate_size", intermediateSize},
      {"label2id", ids},
      {"layer_norm_eps", layerNormEps},
      {"max_position_embeddings", maxPositionEmbeddings},
      {"model_type", "bert"},
      {"num_attention_heads", numAttentionHeads},
      {"num_hidden_layers", numHiddenLayers},
      {"pad_token_id", 0},
      {"position_embedding_type", "absolute"},
      {"torch_dtype", "float32"},
      {"transformers_version", "4.30.0"},
      {"type_vocab_size", typeVocabSize},
      {"use_cache", true},
      {"vocab_size", vocabSize},
  };
  if (!prunedHeads.empty()) {
    Json pruned = Json::object();
    for (const auto &[layer, heads] : prunedHeads)
      pruned[std::to_string(layer)] = heads;
    root["pruned_heads"] = pruned;
  }
  bool narrowFfn = false;
  for (int64_t width : intermediateSizes)
    narrowFfn |= width != intermediateSize;
  if (narrowFfn)
    root["intermediate_sizes"] = intermediateSizes;
  if (!lowRank.empty())
    root["low_rank_linears"] = lowRank;
  if (hasEmbeddingProjection())
    root["embedding_size"] = embeddingSize;
  if (isShared())
    root["num_hidden_groups"] = numHiddenGroups;
  return root.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

Error BertConfig::save(const std::string &path) const {
  if (Error err = validate(path))
    return err;
  return saveDocument(path, toJson());
}
