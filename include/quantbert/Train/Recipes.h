//===- Recipes.h - Quantization-aware training recipes ----------*- C++ -*-===//
//
// The QAT recipes of quant-bert-train finetune --recipe (docs/training.md):
//
//   q8bert    every encoder linear int8 (symmetric, live max|W|) on int8
//             inputs (EMA ranges), word and position embeddings int8
//             (Zafrir et al., Q8BERT);
//   sensimix  the lower layers "8-bit encoders", the upper MP layers 8-bit
//             attention plus a 1-bit FFN on 1-bit inputs (Piao et al.,
//             SensiMix), with its three training techniques: Absolute
//             Binary Weight Regularization (ABWR), Prioritized Training (PT)
//             and Inverse Layer-wise Fine-tuning (ILF), each switchable;
//             the 1-bit weights the paper's unscaled +-1 unless the recipe
//             config asks for binary-mean-scale;
//             or, with `assign`, any module (attention or FFN) 1-bit, int8
//             or ternary as sensitivity.json and a size budget choose
//             (qb-assign-precision's solver), at random within the budget,
//             or as a module_precisions map says;
//   ternary   TWN weights on int8 inputs, the word embedding ternary per
//             row (Zhang et al., TernaryBERT).
//
// SensiMix's reference stores its 8-bit modules in an asymmetric "index"
// format and dequantizes them to FP16 at inference: it never had integer
// kernels. The compiler, too, treats asymmetric-index as storage only
// (dequantized weights, a float linear), so sensimix's 8-bit linears here
// are symmetric int8 weights on 8-bit EMA activations and run on the int8
// kernels; only its embedding tables, which are looked up rather than
// multiplied, keep the index format.
//
// A recipe resolves, for a given model configuration, to a QatSpec and the
// list of MP layers; QatTask wraps a training task with the recipe's
// per-epoch schedule, its extra loss and the qat.json sidecar.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRAIN_RECIPES_H
#define QUANTBERT_TRAIN_RECIPES_H

#include "quantbert/Support/BertConfig.h"
#include "quantbert/Support/Error.h"
#include "quantbert/Support/SensitivityReport.h"
#include "quantbert/Train/BertModel.h"
#include "quantbert/Train/Checkpoint.h"
#include "quantbert/Train/QuantizedLinear.h"
#include "quantbert/Train/Trainer.h"

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quantbert::train {

enum class RecipeKind { Q8Bert, SensiMix, Ternary };

/// "q8bert", "sensimix", "ternary".
std::string_view recipeName(RecipeKind kind);
/// Errors name the unknown recipe and the known ones.
Expected<RecipeKind> parseRecipeName(std::string_view name);

/// An encoder layer's attention or FFN (in a weight-shared model, a layer
/// group's): the unit precision is assigned to, as in sensitivity.json.
struct EncoderModule {
  int64_t layer = 0;
  BertModule module = BertModule::Attention;
  bool operator<(const EncoderModule &other) const {
    return layer != other.layer ? layer < other.layer : module < other.module;
  }
  bool operator==(const EncoderModule &other) const {
    return layer == other.layer && module == other.module;
  }
};

/// "layer.1.attention", "layer.3.ffn" (module_precisions' keys).
std::string encoderModuleName(const EncoderModule &module);
Expected<EncoderModule> parseEncoderModule(std::string_view name);

/// The encoder modules' linears (checkpoint names) of `module`.
std::vector<std::string> encoderModuleLinears(const EncoderModule &module);

/// Weights of `module`'s linears in a model of `config` (pruned widths and
/// low-rank factors counted as stored; biases excluded).
int64_t encoderModuleParams(const BertConfig &config,
                            const EncoderModule &module);

/// How sensimix chooses each module's precision.
enum class Assignment {
  /// SensiMix's policy: the MP layers' FFNs 1-bit, everything else int8.
  Layers,
  /// The least summed sensitivity (sensitivity.json) within the size
  /// budget: qb-assign-precision's solver, before training.
  Budget,
  /// A random assignment within the budget (the control for Budget):
  /// modules in random order drop to the narrowest candidate until the
  /// model fits, then, in a new random order, each dropped module goes back
  /// to the widest candidate that still fits.
  Random,
};

/// "layers", "budget", "random".
std::string_view assignmentName(Assignment assignment);
std::optional<Assignment> parseAssignment(std::string_view name);

/// A recipe and its switches; the JSON config file (--recipe-config) has one
/// key per field: "recipe", "mp_layers", "abwr", "abwr_coefficient",
/// "prioritized_training", "inverse_layerwise", "binary_quantizer",
/// "ema_decay", "keep_layers", "sensitivity", "assign", "bits_per_weight",
/// "precisions", "assign_seed", "module_precisions".
struct RecipeOptions {
  /// Required by resolveRecipe.
  std::optional<RecipeKind> kind;
  /// sensimix: the number of MP layers; negative: half the layers (rounded
  /// down), SensiMix's 3+3 shape for a 6-layer model.
  int64_t mpLayers = -1;
  bool abwr = true;
  double abwrCoefficient = 1.0;
  bool prioritizedTraining = true;
  bool inverseLayerwise = true;
  /// sensimix's 1-bit weight binarizer: binary-sign (the SensiMix paper's
  /// unscaled +-1, the default) or binary-mean-scale (sign(W) times the
  /// matrix's mean |W|, XNOR-Net's scale: +1.8 points with 1,600 training
  /// sentences, none with 3,248; docs/results/compression.md).
  Quantizer binaryQuantizer = Quantizer::BinarySign;
  double emaDecay = kEmaDecay;
  /// Keep only the first N encoder layers of the starting checkpoint
  /// (0: all), as SensiMix truncates BERT-base.
  int64_t keepLayers = 0;
  /// sensitivity.json: sensimix's MP layers become the FFNs least sensitive
  /// to binarization instead of the top layers; the data of
  /// Assignment::Budget.
  std::string sensitivityPath;
  /// sensimix: how modules get their precision (see Assignment).
  Assignment assign = Assignment::Layers;
  /// Budget and Random: the size, as average bits per encoder-linear weight;
  /// 0: the size of SensiMix's policy with mp_layers MP layers (the top
  /// mp_layers FFNs 1-bit, everything else int8), so the assignments
  /// compare at equal bytes.
  double bitsPerWeight = 0;
  /// Budget and Random: the precisions a module can take (i8, ternary,
  /// binary).
  std::vector<Precision> precisions = {Precision::I8, Precision::Binary};
  /// Random: the draw.
  uint64_t assignSeed = 1;
  /// An explicit precision per module; modules not named are int8. Non-empty
  /// replaces `assign`.
  std::map<EncoderModule, Precision> modulePrecisions;
};

/// Overrides `options` with the keys of the JSON object in `path`. Unknown
/// keys and wrong types are errors naming the file and the field.
Error readRecipeConfig(const std::string &path, RecipeOptions &options);

/// sensimix's MP layers, ascending: the top `count` of `numLayers`, or with
/// `sensitivity` the `count` layers whose FFN loses least when binarized
/// (sensitivity["binary"]; ties go to the upper layer).
Expected<std::vector<int64_t>>
chooseMpLayers(int64_t numLayers, int64_t count,
               const SensitivityReport *sensitivity);

/// A recipe made concrete for one model.
struct ResolvedRecipe {
  RecipeOptions options;
  QatSpec spec;
  /// sensimix: every encoder module's precision.
  std::map<EncoderModule, Precision> precisions;
  /// sensimix's 1-bit modules, ascending, and their layers, the MP layers
  /// (ascending; empty for the other recipes).
  std::vector<EncoderModule> binaryModules;
  std::vector<int64_t> mpLayers;
  /// sensimix: the assignment's average bits per encoder-linear weight, and
  /// for Budget its summed sensitivity.
  double bitsPerWeight = 0;
  std::optional<double> totalSensitivity;
};

Expected<ResolvedRecipe> resolveRecipe(const RecipeOptions &options,
                                       const BertConfig &config,
                                       const SensitivityReport *sensitivity);

/// What an MP layer's 1-bit modules binarize during training.
struct FfnPhase {
  bool binaryInputs = true;
  bool binaryWeights = true;
  bool operator==(const FfnPhase &other) const {
    return binaryInputs == other.binaryInputs &&
           binaryWeights == other.binaryWeights;
  }
};

/// SensiMix's training schedule of `numMpLayers` MP layers at `epoch` (from
/// 0), entry i for the i-th MP layer from the bottom. Prioritized Training
/// spends epoch 0 on 1-bit inputs with FP weights; Inverse Layer-wise
/// Fine-tuning then binarizes the weights one layer per epoch from the top
/// down, so with both, epoch e >= 1 has the top e layers' weights
/// binarized, and all of them from epoch numMpLayers on. Without PT,
/// binarization starts at epoch 0 and a layer not yet reached by ILF stays
/// fully FP (inputs and weights); without ILF, all weights binarize at once
/// (after the PT epoch, or from the start). Once binarized, a layer stays
/// binarized and its weights keep receiving the task gradient through the
/// STE (the reference code's freeze is not reproduced).
std::vector<FfnPhase> mpLayerSchedule(int64_t epoch, int64_t numMpLayers,
                                      bool prioritizedTraining,
                                      bool inverseLayerwise);

/// Sets the training switches of the linears of `binaryModules` to the
/// phase of their layer: phases[i] is that of mpLayers[i] (ascending, every
/// binary module's layer among them).
void applyMpSchedule(BertModel &bert,
                     const std::vector<EncoderModule> &binaryModules,
                     const std::vector<int64_t> &mpLayers,
                     const std::vector<FfnPhase> &phases);

/// ABWR (SensiMix): sum over the linears of `modules` of
/// mean((|W| - 1)^2) (both factors of a low-rank factorized linear); for
/// SensiMix's 1-bit FFNs, the intermediate and output weights.
torch::Tensor abwrLoss(BertModel &bert,
                       const std::vector<EncoderModule> &modules);

/// --keep-layers: `config` cut to its first `keep` layers (0 or the full
/// depth: unchanged), and the load policy that skips the dropped layers'
/// tensors of the original checkpoint.
Expected<BertConfig> keepFirstLayers(const BertConfig &config, int64_t keep,
                                     LoadPolicy &policy);

/// What a training state must match to resume under `recipe`: the recipe's
/// name, then a 16-hex-digit FNV-1a digest of every quantized module's spec
/// (quantizer, granularity, input) and the schedule's switches (ABWR and its
/// coefficient, PT, ILF, EMA decay), e.g. "sensimix-1f0c...". Two recipes
/// that train differently differ here, so a state saved under one is not
/// resumed under the other.
std::string recipeIdentity(const ResolvedRecipe &recipe);

/// Quantization-aware training around another task (fine-tuning, or
/// distillation into the same model): the inner task's loss plus ABWR over
/// the currently binarized MP layers, SensiMix's schedule applied at every
/// epoch, the recipe's EMA decay, and checkpoints that carry qat.json (spec
/// and activation ranges) and, if given, a copy of sensitivity.json. The
/// recipe's spec must already be applied to the model (applyQatSpec).
class QatTask : public TrainingTask {
public:
  QatTask(std::unique_ptr<TrainingTask> inner,
          BertForSequenceClassification model, ResolvedRecipe recipe);

  /// The inner task's name and recipeIdentity: a resume with another recipe,
  /// or the same recipe with other modules, quantizers or switches, is
  /// refused.
  std::string name() const override;
  torch::nn::Module &model() override { return inner_->model(); }
  int64_t numExamples() const override { return inner_->numExamples(); }
  void beginEpoch(int64_t epoch) override;
  void setGlobalBatch(std::vector<int64_t> batch) override {
    inner_->setGlobalBatch(std::move(batch));
  }
  Expected<torch::Tensor> loss(const std::vector<int64_t> &examples) override;
  Expected<std::optional<double>> evaluate() override;
  Error saveModel(const std::string &dir) override;

  /// The MP layers whose 1-bit weights are binarized in the current epoch.
  const std::vector<int64_t> &binarizedLayers() const { return binarized_; }

private:
  std::unique_ptr<TrainingTask> inner_;
  BertForSequenceClassification model_;
  ResolvedRecipe recipe_;
  std::vector<int64_t> binarized_;
  /// Their 1-bit modules (ABWR's terms).
  std::vector<EncoderModule> binarizedModules_;
};

} // namespace quantbert::train

#endif // QUANTBERT_TRAIN_RECIPES_H
