//===- Checkpoint.h - HF checkpoint I/O of the LibTorch model --*- C++ -*-===//
//
// Saves and loads a model as a Hugging Face checkpoint directory
// (config.json, vocab.txt, model.safetensors) through QBSupport. Parameters
// are written as F32 under their module names, which are transformers' names
// (BertModel.h), so BertForSequenceClassification.from_pretrained loads the
// directory unchanged. Every file is written atomically. Loading copies the
// bytes, so a save/load round trip is bit-exact, and checks every tensor's
// name, dtype and shape with an error naming the tensor.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRAIN_CHECKPOINT_H
#define QUANTBERT_TRAIN_CHECKPOINT_H

#include "quantbert/Support/BertConfig.h"
#include "quantbert/Support/Error.h"
#include "quantbert/Support/Safetensors.h"

#include <torch/torch.h>

#include <string>
#include <vector>

namespace quantbert::train {

/// Which tensors of a file a load may leave unused or the model may miss.
struct LoadPolicy {
  /// Model parameters under these prefixes may be absent from the file; they
  /// keep their current (initial) values, e.g. the pooler and classifier
  /// when fine-tuning from an MLM checkpoint.
  std::vector<std::string> optionalPrefixes;
  /// File tensors under these prefixes are skipped, e.g. "cls." (the MLM
  /// head) when loading into a classifier.
  std::vector<std::string> ignoredPrefixes;
};

/// Adds every parameter of `model` as an F32 tensor named `prefix` + its
/// module path.
Error addParameters(SafetensorsWriter &writer, torch::nn::Module &model,
                    const std::string &prefix = "");

/// Copies the tensors of `file` into the parameters of `model` (named
/// `prefix` + module path). Every parameter must be present (unless the
/// policy makes it optional) as F32, F16 or BF16 with the parameter's shape;
/// every tensor of the file must be a parameter (unless ignored). Tensors
/// that transformers writes but that are no parameters here
/// (`bert.embeddings.position_ids`, the tied `cls.predictions.decoder.*`)
/// are always skipped. Errors name the file's source and the tensor.
Error loadParameters(torch::nn::Module &model, const SafetensorsFile &file,
                     const LoadPolicy &policy = {},
                     const std::string &prefix = "");

/// Tensors by name, in order (what named_parameters/named_buffers return).
using NamedTensors = torch::OrderedDict<std::string, torch::Tensor>;

/// Adds every tensor of `tensors` as F32 `prefix` + its name; a tensor of
/// another dtype is an error naming it (`what`: "buffer", "average", ...).
Error addF32Tensors(SafetensorsWriter &writer,
                    const NamedTensors &tensors,
                    const std::string &prefix, const std::string &what);

/// Copies the F32 tensors `prefix` + name of `file` into `tensors`: each must
/// be present with its tensor's shape.
Error loadF32Tensors(const SafetensorsFile &file,
                     NamedTensors &tensors,
                     const std::string &prefix);

/// Writes `dir`/config.json, `dir`/vocab.txt (a copy of `vocabPath`) and
/// `dir`/model.safetensors, creating `dir` if needed.
Error saveCheckpoint(const std::string &dir, const BertConfig &config,
                     torch::nn::Module &model, const std::string &vocabPath);

/// Reads `dir`/config.json.
Expected<BertConfig> loadCheckpointConfig(const std::string &dir);

/// Loads `dir`/model.safetensors into `model` (see loadParameters).
Error loadCheckpointWeights(const std::string &dir, torch::nn::Module &model,
                            const LoadPolicy &policy = {});

} // namespace quantbert::train

#endif // QUANTBERT_TRAIN_CHECKPOINT_H
