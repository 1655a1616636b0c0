//===- Export.h - Bundles: export and re-import -----------------*- C++ -*-===//
//
// quant-bert-train export turns a quantization-aware checkpoint (a Hugging
// Face checkpoint of the latent FP32 weights plus qat.json) into the
// compressed bundle of docs/formats.md: config.json, vocab.txt,
// model.safetensors with the weights in quantized form (int8 codes I8 and
// F32 scales; packed sign bits I64 per BitPacking.h and scales; ternary
// codes I8 and scale), quant.json, and sensitivity.json when the checkpoint
// has one. The codes are those the checkpoint's eval forward computes with
// (QuantizedMatrix), and quant.json's input_scale the eval forward's static
// scale, so the bundle reproduces the checkpoint's eval predictions exactly;
// loadBundle reads it back into a model whose eval forward uses the stored
// codes as they are.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRAIN_EXPORT_H
#define QUANTBERT_TRAIN_EXPORT_H

#include "quantbert/Support/BertConfig.h"
#include "quantbert/Support/Error.h"
#include "quantbert/Train/BertModel.h"
#include "quantbert/Train/QuantizedLinear.h"

#include <string>

namespace quantbert::train {

/// A classification model loaded from a directory, in eval form.
struct LoadedModel {
  BertConfig config;
  BertForSequenceClassification model{nullptr};
  /// "bundle" (quant.json), "qat" (qat.json) or "float".
  std::string kind;
  /// The recipe quant.json / qat.json names ("float" for a float model).
  std::string recipe;
};

/// Loads a QAT checkpoint: config.json, the latent weights and qat.json
/// (spec and activation ranges). Errors name the file and field.
Expected<LoadedModel> loadQatCheckpoint(const std::string &dir);

/// Loads an exported bundle: quant.json (validated, and checked against
/// model.safetensors), the quantized weights frozen into their modules, the
/// float tensors as they are. The latent weights become the dequantized
/// ones.
Expected<LoadedModel> loadBundle(const std::string &dir);

/// A bundle if `dir` has quant.json, else a QAT checkpoint if it has
/// qat.json, else a float checkpoint.
Expected<LoadedModel> loadModelForEval(const std::string &dir);

/// Writes the bundle of the QAT checkpoint `checkpointDir` to `bundleDir`
/// (created if needed). quant.json is validated and checked against the
/// serialized model.safetensors before anything is written; every file is
/// written atomically.
Error exportBundle(const std::string &checkpointDir,
                   const std::string &bundleDir);

/// Writes the bundle of `loaded` (whose quantized modules have their specs,
/// and int8-input linears their input scales) to `bundleDir`, as
/// exportBundle does; vocab.txt and sensitivity.json (if any) come from
/// `sourceDir`.
Error exportModel(LoadedModel &loaded, const std::string &sourceDir,
                  const std::string &bundleDir);

/// loadModelForEval, then for a bundle or QAT checkpoint the dequantized
/// weights as the model's float weights and no quantization: the float
/// model the quantized one computes with.
Expected<LoadedModel> loadDequantized(const std::string &dir);

/// Writes a Hugging Face FP32 checkpoint whose weights are the dequantized
/// quantized weights of `checkpointDir` (a QAT checkpoint or a bundle).
/// It has no activation quantization: a float model for tools that cannot
/// run the bundle.
Error exportDequantized(const std::string &checkpointDir,
                        const std::string &dir);

} // namespace quantbert::train

#endif // QUANTBERT_TRAIN_EXPORT_H
