//===- BertModel.h - BERT encoder in LibTorch with HF names -----*- C++ -*-===//
//
// The BERT encoder of the training front end, module for module the one of
// Hugging Face's modeling_bert.py: embeddings, self-attention, self-output,
// intermediate, output, layer, encoder, pooler, then the sequence
// classification and masked-LM heads. Module and parameter names are the
// checkpoint names (`bert.encoder.layer.0.attention.self.query.weight`, ...),
// so named_parameters() maps onto a safetensors file with no translation.
//
// The numerics are the compiler's: embeddings summed as (words + token types)
// + positions, an additive -10000 mask on padded keys, erf GELU (or the tanh
// form when the config asks), LayerNorm with the config's eps, and a tanh
// pooler on the first token. forward() also returns, per layer, what
// distillation needs (REFERENCE.md section 4): pre-softmax attention scores
// (after scale and mask), attention probabilities, the attention sub-layer
// output and the hidden states.
//
// Layers take their head count and FFN width from the config, so a
// structurally pruned checkpoint (config.json's pruned_heads and
// intermediate_sizes) builds narrower modules whose tensors load as saved.
// Linears listed in config.json's low_rank_linears are built factorized
// (QuantLinearImpl::setRank). A weight-shared model (num_hidden_groups)
// holds one layer module per group and runs it for each of the group's
// layers; with embedding_size < hidden_size the embeddings are that narrow
// and the encoder projects them (ALBERT's factorized embedding). For pruning's importance scores, each self-attention and each FFN can
// multiply its per-head context or per-neuron activation by a gate vector
// (ones by default, undefined = no gate): the gradient of a loss with
// respect to a gate is the head's or neuron's importance (Pruning.h).
//
// Every linear of the encoder, pooler and classifier is a QuantLinear, and
// the three embedding tables are QuantEmbeddings (QuantizedLinear.h): the
// float modules, with the same parameter names, unless a quantization spec
// is set on them for quantization-aware training.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRAIN_BERTMODEL_H
#define QUANTBERT_TRAIN_BERTMODEL_H

#include "quantbert/Support/BertConfig.h"
#include "quantbert/Train/QuantizedLinear.h"

#include <torch/torch.h>

#include <vector>

namespace quantbert::train {

/// Dropout rates of training; transformers' defaults.
inline constexpr double kHiddenDropout = 0.1;
inline constexpr double kAttentionDropout = 0.1;
/// Standard deviation of the random weight initialisation
/// (transformers' initializer_range).
inline constexpr double kInitializerRange = 0.02;

/// Additive attention-mask value of padded keys (transformers' BERT before
/// 4.31 and the compiler's qb.attention).
inline constexpr float kMaskedScore = -10000.0f;

/// A batch of encoder inputs; all [batch, seq] int64.
struct EncoderInputs {
  torch::Tensor inputIds;
  torch::Tensor tokenTypeIds;
  /// 1 for real tokens, 0 for padding.
  torch::Tensor attentionMask;
};

/// One encoder layer's intermediate values.
struct LayerTrace {
  /// QK^T / sqrt(d) + mask, [batch, heads, seq, seq].
  torch::Tensor attentionScores;
  /// softmax(attentionScores) (before attention dropout).
  torch::Tensor attentionProbs;
  /// LayerNorm(W_o ctx + b + x), the attention sub-layer output.
  torch::Tensor attentionOutput;
  /// The layer's output hidden states.
  torch::Tensor hiddenStates;
};

/// What BertModel::forward returns.
struct EncoderOutputs {
  /// The embedding output (hidden state 0), [batch, seq, hidden].
  torch::Tensor embeddingOutput;
  /// One trace per layer, bottom to top.
  std::vector<LayerTrace> layers;
  /// The last layer's hidden states.
  torch::Tensor lastHiddenState;
  /// tanh(W h_[CLS] + b), [batch, hidden]; undefined without a pooler.
  torch::Tensor pooledOutput;
};

/// Word, position and token-type embeddings, then LayerNorm and dropout.
struct BertEmbeddingsImpl : torch::nn::Module {
  explicit BertEmbeddingsImpl(const BertConfig &config);
  torch::Tensor forward(const torch::Tensor &inputIds,
                        const torch::Tensor &tokenTypeIds);

  QuantEmbedding word_embeddings{nullptr};
  QuantEmbedding position_embeddings{nullptr};
  QuantEmbedding token_type_embeddings{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(BertEmbeddings);

/// Multi-head scaled dot-product self-attention (Vaswani et al., eq. 1).
struct BertSelfAttentionImpl : torch::nn::Module {
  /// The self-attention of layer `layer`: config.numHeads(layer) heads.
  BertSelfAttentionImpl(const BertConfig &config, int64_t layer);
  /// Returns the context [batch, seq, hidden] and fills the trace's scores
  /// and probabilities. `additiveMask` is [batch, 1, 1, seq].
  torch::Tensor forward(const torch::Tensor &hidden,
                        const torch::Tensor &additiveMask, LayerTrace &trace);

  int64_t numHeads;
  int64_t headSize;
  /// When defined, [numHeads]: head h's context is multiplied by gate[h]
  /// (Michel et al.'s head mask xi_h).
  torch::Tensor headGate;
  /// The type Q, K and V are rounded to before the products (float: none).
  /// Eval-time simulation of the compiler's `qb.attention` storage_type, so
  /// an exported model can be compared with its compiled form exactly; set
  /// it with setAttentionStorage.
  torch::ScalarType storage = torch::kFloat;
  QuantLinear query{nullptr}, key{nullptr}, value{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(BertSelfAttention);

/// Output projection of the attention, dropout, residual and LayerNorm.
struct BertSelfOutputImpl : torch::nn::Module {
  BertSelfOutputImpl(const BertConfig &config, int64_t layer);
  torch::Tensor forward(const torch::Tensor &hidden, const torch::Tensor &input);

  QuantLinear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(BertSelfOutput);

/// The attention sub-layer: `self` then `output`.
struct BertAttentionImpl : torch::nn::Module {
  BertAttentionImpl(const BertConfig &config, int64_t layer);
  torch::Tensor forward(const torch::Tensor &hidden,
                        const torch::Tensor &additiveMask, LayerTrace &trace);

  BertSelfAttention self{nullptr};
  BertSelfOutput output{nullptr};
};
TORCH_MODULE(BertAttention);

/// The FFN's expansion and GELU.
struct BertIntermediateImpl : torch::nn::Module {
  /// config.ffnWidth(layer) neurons.
  BertIntermediateImpl(const BertConfig &config, int64_t layer);
  torch::Tensor forward(const torch::Tensor &hidden);

  HiddenAct act;
  /// When defined, [width]: neuron j's activation is multiplied by gate[j].
  torch::Tensor neuronGate;
  QuantLinear dense{nullptr};
};
TORCH_MODULE(BertIntermediate);

/// The FFN's contraction, dropout, residual and LayerNorm.
struct BertOutputImpl : torch::nn::Module {
  BertOutputImpl(const BertConfig &config, int64_t layer);
  torch::Tensor forward(const torch::Tensor &hidden, const torch::Tensor &input);

  QuantLinear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(BertOutput);

/// One encoder layer: attention, then the FFN.
struct BertLayerImpl : torch::nn::Module {
  /// Layer `layer` of the encoder (its index sizes its heads and FFN).
  BertLayerImpl(const BertConfig &config, int64_t layer);
  /// Returns the layer output and fills `trace`.
  torch::Tensor forward(const torch::Tensor &hidden,
                        const torch::Tensor &additiveMask, LayerTrace &trace);

  BertAttention attention{nullptr};
  BertIntermediate intermediate{nullptr};
  BertOutput output{nullptr};
};
TORCH_MODULE(BertLayer);

/// The stack of layers (`encoder.layer.N`), and ALBERT's projection of
/// narrower embeddings.
struct BertEncoderImpl : torch::nn::Module {
  explicit BertEncoderImpl(const BertConfig &config);
  /// embedding_hidden_mapping_in(embeddings), or the embeddings themselves
  /// when they are hidden_size wide.
  torch::Tensor project(const torch::Tensor &embeddings);
  /// Runs every layer, appending one trace each to `traces`.
  torch::Tensor forward(torch::Tensor hidden, const torch::Tensor &additiveMask,
                        std::vector<LayerTrace> &traces);

  /// The stored layers: one per group of a weight-shared model
  /// (config.storedLayers()), so `layer.<g>` holds group g's weights.
  torch::nn::ModuleList layer{nullptr};
  /// The stored layer each of the numHiddenLayers layers runs, bottom to
  /// top (config.groupOf).
  std::vector<int64_t> groups;
  /// E -> H; undefined unless config.hasEmbeddingProjection().
  QuantLinear embedding_hidden_mapping_in{nullptr};
};
TORCH_MODULE(BertEncoder);

/// tanh(W h_[CLS] + b).
struct BertPoolerImpl : torch::nn::Module {
  explicit BertPoolerImpl(const BertConfig &config);
  torch::Tensor forward(const torch::Tensor &hidden);

  QuantLinear dense{nullptr};
};
TORCH_MODULE(BertPooler);

/// Embeddings, encoder and (optionally, as transformers' add_pooling_layer)
/// the pooler.
struct BertModelImpl : torch::nn::Module {
  BertModelImpl(const BertConfig &config, bool addPoolingLayer);
  EncoderOutputs forward(const EncoderInputs &inputs);

  BertEmbeddings embeddings{nullptr};
  BertEncoder encoder{nullptr};
  BertPooler pooler{nullptr};
};
TORCH_MODULE(BertModel);

/// transformers' BertForSequenceClassification: `bert`, dropout on the
/// pooled output, `classifier`.
struct BertForSequenceClassificationImpl : torch::nn::Module {
  explicit BertForSequenceClassificationImpl(const BertConfig &config);
  /// Logits [batch, numLabels]; `outputs`, when given, receives the
  /// encoder's outputs.
  torch::Tensor forward(const EncoderInputs &inputs,
                        EncoderOutputs *outputs = nullptr);

  BertModel bert{nullptr};
  torch::nn::Dropout dropout{nullptr};
  QuantLinear classifier{nullptr};
};
TORCH_MODULE(BertForSequenceClassification);

/// `cls.predictions.transform`: dense, GELU, LayerNorm.
struct BertPredictionHeadTransformImpl : torch::nn::Module {
  explicit BertPredictionHeadTransformImpl(const BertConfig &config);
  torch::Tensor forward(const torch::Tensor &hidden);

  HiddenAct act;
  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
};
TORCH_MODULE(BertPredictionHeadTransform);

/// `cls.predictions`: the transform, then the decoder, whose weight is the
/// word embedding matrix (tied, as in transformers) plus its own `bias`.
struct BertLMPredictionHeadImpl : torch::nn::Module {
  BertLMPredictionHeadImpl(const BertConfig &config, torch::Tensor decoderWeight);
  torch::Tensor forward(const torch::Tensor &hidden);

  BertPredictionHeadTransform transform{nullptr};
  torch::Tensor decoderWeight;
  torch::Tensor bias;
};
TORCH_MODULE(BertLMPredictionHead);

/// `cls` of BertForMaskedLM.
struct BertOnlyMLMHeadImpl : torch::nn::Module {
  BertOnlyMLMHeadImpl(const BertConfig &config, torch::Tensor decoderWeight);
  torch::Tensor forward(const torch::Tensor &hidden) {
    return predictions->forward(hidden);
  }

  BertLMPredictionHead predictions{nullptr};
};
TORCH_MODULE(BertOnlyMLMHead);

/// transformers' BertForMaskedLM: `bert` without a pooler, and `cls`.
struct BertForMaskedLMImpl : torch::nn::Module {
  explicit BertForMaskedLMImpl(const BertConfig &config);
  /// Prediction scores [batch, seq, vocab].
  torch::Tensor forward(const EncoderInputs &inputs);
  /// Prediction scores [positions, vocab] at `positions` only: int64 indices
  /// into the flattened [batch * seq] tokens. The head (transform and the
  /// vocabulary-wide decoder) costs far more than the encoder of a small
  /// model, and MLM's loss needs it at the masked ~15% of tokens alone.
  torch::Tensor forward(const EncoderInputs &inputs,
                        const torch::Tensor &positions);

  BertModel bert{nullptr};
  BertOnlyMLMHead cls{nullptr};
};
TORCH_MODULE(BertForMaskedLM);

/// transformers' BertPreTrainedModel._init_weights on every submodule of
/// `model`: linear and embedding weights N(0, 0.02), biases 0, the [PAD]
/// (id 0) embedding row 0, LayerNorm weight 1 and bias 0.
void initBertWeights(torch::nn::Module &model);

/// Sets the storage type (kFloat, kHalf or kBFloat16) of every self-attention
/// module in `model`: Q, K and V are rounded to it (nearest-even) and back,
/// as the compiled model stores them; products and sums stay f32.
void setAttentionStorage(torch::nn::Module &model, torch::ScalarType storage);

} // namespace quantbert::train

#endif // QUANTBERT_TRAIN_BERTMODEL_H
