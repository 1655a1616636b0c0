//===- AlbertExport.cpp - Hugging Face ALBERT checkpoints -----------------===//

#include "quantbert/Train/AlbertExport.h"

#include "quantbert/Support/FileIO.h"
#include "quantbert/Support/JsonFields.h"
#include "quantbert/Support/Safetensors.h"
#include "quantbert/Train/Export.h"

#include <torch/torch.h>

#include <filesystem>
#include <map>

namespace quantbert::train {

using json_fields::Json;

namespace {

/// quant-bert's name inside an encoder layer -> ALBERT's inside albert_layers.0.
const std::pair<const char *, const char *> kLayerNames[] = {
    {"attention.self.query.", "attention.query."},
    {"attention.self.key.", "attention.key."},
    {"attention.self.value.", "attention.value."},
    {"attention.output.dense.", "attention.dense."},
    {"attention.output.LayerNorm.", "attention.LayerNorm."},
    {"intermediate.dense.", "ffn."},
    {"output.dense.", "ffn_output."},
    {"output.LayerNorm.", "full_layer_layer_norm."},
};

bool startsWith(const std::string &text, const std::string &prefix) {
  return text.rfind(prefix, 0) == 0;
}

} // namespace

std::string albertTensorName(const std::string &name) {
  if (startsWith(name, "bert.embeddings."))
    return "albert." + name.substr(5);
  if (startsWith(name, "bert.encoder.embedding_hidden_mapping_in."))
    return "albert." + name.substr(5);
  if (startsWith(name, "bert.pooler.dense."))
    return "albert.pooler." + name.substr(18);
  if (startsWith(name, "classifier."))
    return name;
  const std::string layer = "bert.encoder.layer.";
  if (!startsWith(name, layer))
    return "";
  size_t dot = name.find('.', layer.size());
  if (dot == std::string::npos)
    return "";
  std::string group = name.substr(layer.size(), dot - layer.size());
  std::string rest = name.substr(dot + 1);
  for (const auto &[bert, albert] : kLayerNames)
    if (startsWith(rest, bert) && rest.find('.', std::string(bert).size()) ==
                                      std::string::npos)
      return "albert.encoder.albert_layer_groups." + group +
             ".albert_layers.0." + albert + rest.substr(std::string(bert).size());
  return "";
}

std::string albertConfigJson(const BertConfig &config) {
  Json labels = Json::object(), ids = Json::object();
  for (int64_t i = 0; i < config.numLabels; ++i) {
    labels[std::to_string(i)] = config.labelName(i);
    ids[config.labelName(i)] = i;
  }
  Json root = {
      {"architectures", Json::array({"AlbertForSequenceClassification"})},
      {"attention_probs_dropout_prob", 0.1},
      {"bos_token_id", 2},
      {"classifier_dropout_prob", 0.1},
      {"embedding_size", config.embeddingWidth()},
      {"eos_token_id", 3},
      {"hidden_act",
       config.hiddenAct == HiddenAct::Gelu ? "gelu" : "gelu_new"},
      {"hidden_dropout_prob", 0.1},
      {"hidden_size", config.hiddenSize},
      {"id2label", labels},
      {"initializer_range", 0.02},
      {"inner_group_num", 1},
      {"intermediate_size", config.intermediateSize},
      {"label2id", ids},
      {"layer_norm_eps", config.layerNormEps},
      {"max_position_embeddings", config.maxPositionEmbeddings},
      {"model_type", "albert"},
      {"num_attention_heads", config.numAttentionHeads},
      {"num_hidden_groups", config.storedLayers()},
      {"num_hidden_layers", config.numHiddenLayers},
      {"pad_token_id", 0},
      {"position_embedding_type", "absolute"},
      {"torch_dtype", "float32"},
      {"transformers_version", "4.30.0"},
      {"type_vocab_size", config.typeVocabSize},
      {"vocab_size", config.vocabSize},
  };
  return root.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

Error exportAlbert(const std::string &checkpointDir, const std::string &dir) {
  Expected<LoadedModel> loaded = loadDequantized(checkpointDir);
  if (!loaded)
    return loaded.error();
  const BertConfig &config = loaded->config;
  if (config.isPruned())
    return Error::failure(checkpointDir +
                          ": a structurally pruned model has no ALBERT form "
                          "(ALBERT's layers all have intermediate_size)");

  std::map<std::string, torch::Tensor> tensors;
  {
    torch::NoGradGuard noGrad;
    auto parameters = loaded->model->named_parameters();
    for (const auto &item : parameters) {
      const std::string &name = item.key();
      torch::Tensor value = item.value().detach();
      // A low-rank linear: `<module>.weight` [out, r] times
      // `<module>.down.weight` [r, in] is the weight ALBERT stores.
      if (name.size() > 12 &&
          name.compare(name.size() - 12, 12, ".down.weight") == 0)
        continue;
      std::string module = name.substr(0, name.rfind('.'));
      if (const torch::Tensor *down = parameters.find(module + ".down.weight"))
        if (name == module + ".weight")
          value = value.mm(*down);
      std::string albert = albertTensorName(name);
      if (albert.empty())
        return Error::failure(checkpointDir + ": tensor '" + name +
                              "' has no place in an ALBERT checkpoint");
      tensors[albert] = value.to(torch::kFloat32).contiguous();
    }
    if (!config.hasEmbeddingProjection()) {
      tensors["albert.encoder.embedding_hidden_mapping_in.weight"] =
          torch::eye(config.hiddenSize, torch::kFloat32);
      tensors["albert.encoder.embedding_hidden_mapping_in.bias"] =
          torch::zeros({config.hiddenSize}, torch::kFloat32);
    }
  }
  SafetensorsWriter writer;
  if (Error err = writer.setMetadata("format", "pt"))
    return err;
  for (const auto &[name, value] : tensors)
    if (Error err = writer.add(name, DType::F32,
                               std::vector<int64_t>(value.sizes().begin(),
                                                    value.sizes().end()),
                               value.data_ptr<float>(),
                               size_t(value.numel()) * sizeof(float)))
      return err;

  // Everything is read before the directory is made.
  Expected<std::string> vocab = readFile(checkpointDir + "/vocab.txt");
  if (!vocab)
    return vocab.error();
  if (Error err = createDirectories(dir))
    return err;
  if (Error err = writer.writeAtomically(dir + "/model.safetensors"))
    return err;
  if (Error err = writeFileAtomically(dir + "/vocab.txt", *vocab))
    return err;
  if (Error err = writeFileAtomically(
          dir + "/tokenizer_config.json",
          "{\n  \"do_lower_case\": true,\n  \"tokenizer_class\": "
          "\"BertTokenizer\"\n}\n"))
    return err;
  return writeFileAtomically(dir + "/config.json", albertConfigJson(config));
}

} // namespace quantbert::train
