//===- BertModel.cpp - BERT encoder in LibTorch with HF names -------------===//
//
// The modules of BertModel.h, in modeling_bert.py's order. Every forward
// follows transformers' BertModel step for step, so that a checkpoint gives
// the same logits here, in transformers and in the compiled model.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/BertModel.h"

#include <cmath>

namespace quantbert::train {

namespace {

torch::nn::LayerNorm makeLayerNorm(const BertConfig &config, int64_t width) {
  return torch::nn::LayerNorm(
      torch::nn::LayerNormOptions({width}).eps(config.layerNormEps));
}

torch::nn::LayerNorm makeLayerNorm(const BertConfig &config) {
  return makeLayerNorm(config, config.hiddenSize);
}

torch::Tensor applyGelu(const torch::Tensor &x, HiddenAct act) {
  // Hendrycks & Gimpel: x * Phi(x) with the exact erf, or eq. 2's tanh form.
  return torch::gelu(x, act == HiddenAct::GeluTanh ? "tanh" : "none");
}

} // namespace

BertEmbeddingsImpl::BertEmbeddingsImpl(const BertConfig &config) {
  // config.embeddingWidth() wide: hidden_size, or ALBERT's embedding_size.
  // [PAD] (id 0) is transformers' pad_token_id: its row gets no gradient.
  word_embeddings = register_module(
      "word_embeddings",
      QuantEmbedding(
          torch::nn::EmbeddingOptions(config.vocabSize, config.embeddingWidth())
              .padding_idx(0)));
  position_embeddings = register_module(
      "position_embeddings",
      QuantEmbedding(config.maxPositionEmbeddings, config.embeddingWidth()));
  token_type_embeddings = register_module(
      "token_type_embeddings",
      QuantEmbedding(config.typeVocabSize, config.embeddingWidth()));
  LayerNorm = register_module("LayerNorm", makeLayerNorm(config, config.embeddingWidth()));
  dropout = register_module("dropout", torch::nn::Dropout(kHiddenDropout));
}

torch::Tensor BertEmbeddingsImpl::forward(const torch::Tensor &inputIds,
                                          const torch::Tensor &tokenTypeIds) {
  int64_t maxPositions = position_embeddings->weight.size(0);
  TORCH_CHECK(inputIds.size(1) <= maxPositions, "sequences of ",
              inputIds.size(1), " tokens, but the model has ", maxPositions,
              " positions (max_position_embeddings): pass --max-seq-length ",
              maxPositions, " or less");
  torch::Tensor positions =
      torch::arange(inputIds.size(1), inputIds.options()).unsqueeze(0);
  // transformers' summation order, which the compiler's qb.embedding keeps:
  // (words + token types) + positions.
  torch::Tensor sum = word_embeddings->forward(inputIds) +
                      token_type_embeddings->forward(tokenTypeIds);
  sum = sum + position_embeddings->forward(positions);
  return dropout->forward(LayerNorm->forward(sum));
}

BertSelfAttentionImpl::BertSelfAttentionImpl(const BertConfig &config,
                                             int64_t layer)
    : numHeads(config.numHeads(layer)), headSize(config.headSize()) {
  int64_t width = numHeads * headSize;
  query = register_module("query", QuantLinear(config.hiddenSize, width));
  key = register_module("key", QuantLinear(config.hiddenSize, width));
  value = register_module("value", QuantLinear(config.hiddenSize, width));
  dropout = register_module("dropout", torch::nn::Dropout(kAttentionDropout));
}

torch::Tensor BertSelfAttentionImpl::forward(const torch::Tensor &hidden,
                                             const torch::Tensor &additiveMask,
                                             LayerTrace &trace) {
  int64_t batch = hidden.size(0), seq = hidden.size(1);
  auto splitHeads = [&](const torch::Tensor &x) {
    return x.view({batch, seq, numHeads, headSize}).permute({0, 2, 1, 3});
  };
  torch::Tensor q = splitHeads(query->forward(hidden));
  torch::Tensor k = splitHeads(key->forward(hidden));
  torch::Tensor v = splitHeads(value->forward(hidden));
  if (storage != torch::kFloat) {
    q = q.to(storage).to(torch::kFloat);
    k = k.to(storage).to(torch::kFloat);
    v = v.to(storage).to(torch::kFloat);
  }
  // Vaswani et al., eq. 1: softmax(QK^T / sqrt(d_k)) V, with the mask added
  // after the scale as transformers does.
  torch::Tensor scores =
      torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(double(headSize));
  scores = scores + additiveMask;
  torch::Tensor probs = torch::softmax(scores, -1);
  trace.attentionScores = scores;
  trace.attentionProbs = probs;
  torch::Tensor context = torch::matmul(dropout->forward(probs), v);
  if (headGate.defined())
    context = context * headGate.view({1, numHeads, 1, 1});
  return context.permute({0, 2, 1, 3}).contiguous().view(
      {batch, seq, numHeads * headSize});
}

BertSelfOutputImpl::BertSelfOutputImpl(const BertConfig &config,
                                       int64_t layer) {
  dense = register_module(
      "dense", QuantLinear(config.numHeads(layer) * config.headSize(),
                           config.hiddenSize));
  LayerNorm = register_module("LayerNorm", makeLayerNorm(config));
  dropout = register_module("dropout", torch::nn::Dropout(kHiddenDropout));
}

torch::Tensor BertSelfOutputImpl::forward(const torch::Tensor &hidden,
                                          const torch::Tensor &input) {
  return LayerNorm->forward(dropout->forward(dense->forward(hidden)) + input);
}

BertAttentionImpl::BertAttentionImpl(const BertConfig &config, int64_t layer) {
  self = register_module("self", BertSelfAttention(config, layer));
  output = register_module("output", BertSelfOutput(config, layer));
}

torch::Tensor BertAttentionImpl::forward(const torch::Tensor &hidden,
                                         const torch::Tensor &additiveMask,
                                         LayerTrace &trace) {
  torch::Tensor context = self->forward(hidden, additiveMask, trace);
  trace.attentionOutput = output->forward(context, hidden);
  return trace.attentionOutput;
}

BertIntermediateImpl::BertIntermediateImpl(const BertConfig &config,
                                           int64_t layer)
    : act(config.hiddenAct) {
  dense = register_module(
      "dense", QuantLinear(config.hiddenSize, config.ffnWidth(layer)));
}

torch::Tensor BertIntermediateImpl::forward(const torch::Tensor &hidden) {
  torch::Tensor activation = applyGelu(dense->forward(hidden), act);
  if (neuronGate.defined())
    activation = activation * neuronGate;
  return activation;
}

BertOutputImpl::BertOutputImpl(const BertConfig &config, int64_t layer) {
  dense = register_module(
      "dense", QuantLinear(config.ffnWidth(layer), config.hiddenSize));
  LayerNorm = register_module("LayerNorm", makeLayerNorm(config));
  dropout = register_module("dropout", torch::nn::Dropout(kHiddenDropout));
}

torch::Tensor BertOutputImpl::forward(const torch::Tensor &hidden,
                                      const torch::Tensor &input) {
  return LayerNorm->forward(dropout->forward(dense->forward(hidden)) + input);
}

BertLayerImpl::BertLayerImpl(const BertConfig &config, int64_t index) {
  attention = register_module("attention", BertAttention(config, index));
  intermediate =
      register_module("intermediate", BertIntermediate(config, index));
  output = register_module("output", BertOutput(config, index));
  // Low-rank factorized linears (config.json's low_rank_linears).
  std::string prefix = "bert.encoder.layer." + std::to_string(index) + ".";
  const std::pair<const char *, QuantLinearImpl *> linears[] = {
      {"attention.self.query", attention->self->query.get()},
      {"attention.self.key", attention->self->key.get()},
      {"attention.self.value", attention->self->value.get()},
      {"attention.output.dense", attention->output->dense.get()},
      {"intermediate.dense", intermediate->dense.get()},
      {"output.dense", output->dense.get()}};
  for (const auto &[name, linear] : linears)
    if (int64_t rank = config.rankOf(prefix + name))
      linear->setRank(rank);
}

torch::Tensor BertLayerImpl::forward(const torch::Tensor &hidden,
                                     const torch::Tensor &additiveMask,
                                     LayerTrace &trace) {
  torch::Tensor attended = attention->forward(hidden, additiveMask, trace);
  trace.hiddenStates =
      output->forward(intermediate->forward(attended), attended);
  return trace.hiddenStates;
}

BertEncoderImpl::BertEncoderImpl(const BertConfig &config) {
  if (config.hasEmbeddingProjection())
    embedding_hidden_mapping_in = register_module(
        "embedding_hidden_mapping_in",
        QuantLinear(config.embeddingWidth(), config.hiddenSize));
  // One module per stored layer; a weight-shared model's layers run their
  // group's module (ALBERT's AlbertTransformer).
  layer = register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.storedLayers(); ++i)
    layer->push_back(BertLayer(config, i));
  for (int64_t i = 0; i < config.numHiddenLayers; ++i)
    groups.push_back(config.groupOf(i));
}

torch::Tensor BertEncoderImpl::project(const torch::Tensor &embeddings) {
  return embedding_hidden_mapping_in
             ? embedding_hidden_mapping_in->forward(embeddings)
             : embeddings;
}

torch::Tensor BertEncoderImpl::forward(torch::Tensor hidden,
                                       const torch::Tensor &additiveMask,
                                       std::vector<LayerTrace> &traces) {
  for (int64_t group : groups) {
    traces.emplace_back();
    hidden = layer->ptr<BertLayerImpl>(size_t(group))
                 ->forward(hidden, additiveMask, traces.back());
  }
  return hidden;
}

BertPoolerImpl::BertPoolerImpl(const BertConfig &config) {
  dense = register_module(
      "dense", QuantLinear(config.hiddenSize, config.hiddenSize));
}

torch::Tensor BertPoolerImpl::forward(const torch::Tensor &hidden) {
  return torch::tanh(dense->forward(hidden.select(1, 0)));
}

BertModelImpl::BertModelImpl(const BertConfig &config, bool addPoolingLayer) {
  embeddings = register_module("embeddings", BertEmbeddings(config));
  encoder = register_module("encoder", BertEncoder(config));
  if (addPoolingLayer)
    pooler = register_module("pooler", BertPooler(config));
}

EncoderOutputs BertModelImpl::forward(const EncoderInputs &inputs) {
  EncoderOutputs out;
  // [batch, seq] mask of 1/0 -> [batch, 1, 1, seq] of 0/-10000, broadcast
  // over heads and queries.
  torch::Tensor additiveMask =
      (1.0 - inputs.attentionMask.to(torch::kFloat32)).unsqueeze(1).unsqueeze(2) *
      kMaskedScore;
  // Hidden state 0 is H wide: after embedding_hidden_mapping_in when the
  // embeddings are narrower (as ALBERT's hidden_states[0]).
  out.embeddingOutput = encoder->project(
      embeddings->forward(inputs.inputIds, inputs.tokenTypeIds));
  out.lastHiddenState =
      encoder->forward(out.embeddingOutput, additiveMask, out.layers);
  if (pooler)
    out.pooledOutput = pooler->forward(out.lastHiddenState);
  return out;
}

BertForSequenceClassificationImpl::BertForSequenceClassificationImpl(
    const BertConfig &config) {
  bert = register_module("bert", BertModel(config, /*addPoolingLayer=*/true));
  dropout = register_module("dropout", torch::nn::Dropout(kHiddenDropout));
  classifier = register_module(
      "classifier", QuantLinear(config.hiddenSize, config.numLabels));
}

torch::Tensor
BertForSequenceClassificationImpl::forward(const EncoderInputs &inputs,
                                           EncoderOutputs *outputs) {
  EncoderOutputs encoded = bert->forward(inputs);
  torch::Tensor logits =
      classifier->forward(dropout->forward(encoded.pooledOutput));
  if (outputs)
    *outputs = std::move(encoded);
  return logits;
}

BertPredictionHeadTransformImpl::BertPredictionHeadTransformImpl(
    const BertConfig &config)
    : act(config.hiddenAct) {
  // Down to the (tied) word embeddings' width, as ALBERT's MLM head does
  // when embedding_size < hidden_size.
  dense = register_module(
      "dense", torch::nn::Linear(config.hiddenSize, config.embeddingWidth()));
  LayerNorm = register_module("LayerNorm",
                              makeLayerNorm(config, config.embeddingWidth()));
}

torch::Tensor
BertPredictionHeadTransformImpl::forward(const torch::Tensor &hidden) {
  return LayerNorm->forward(applyGelu(dense->forward(hidden), act));
}

BertLMPredictionHeadImpl::BertLMPredictionHeadImpl(const BertConfig &config,
                                                   torch::Tensor decoderWeight)
    : decoderWeight(std::move(decoderWeight)) {
  transform = register_module("transform", BertPredictionHeadTransform(config));
  bias = register_parameter("bias", torch::zeros({config.vocabSize}));
}

torch::Tensor BertLMPredictionHeadImpl::forward(const torch::Tensor &hidden) {
  return torch::nn::functional::linear(transform->forward(hidden),
                                       decoderWeight, bias);
}

BertOnlyMLMHeadImpl::BertOnlyMLMHeadImpl(const BertConfig &config,
                                         torch::Tensor decoderWeight) {
  predictions = register_module(
      "predictions", BertLMPredictionHead(config, std::move(decoderWeight)));
}

BertForMaskedLMImpl::BertForMaskedLMImpl(const BertConfig &config) {
  bert = register_module("bert", BertModel(config, /*addPoolingLayer=*/false));
  // The decoder shares the word embedding tensor itself (not a copy), so
  // both uses accumulate into one gradient, as transformers' tie_weights.
  cls = register_module(
      "cls", BertOnlyMLMHead(config, bert->embeddings->word_embeddings->weight));
}

torch::Tensor BertForMaskedLMImpl::forward(const EncoderInputs &inputs) {
  return cls->forward(bert->forward(inputs).lastHiddenState);
}

torch::Tensor BertForMaskedLMImpl::forward(const EncoderInputs &inputs,
                                           const torch::Tensor &positions) {
  torch::Tensor hidden = bert->forward(inputs).lastHiddenState;
  // The head is position-wise, so gathering first gives exactly the rows of
  // the full scores.
  return cls->forward(
      hidden.reshape({-1, hidden.size(-1)}).index_select(0, positions));
}

void initBertWeights(torch::nn::Module &model) {
  torch::NoGradGuard noGrad;
  for (const auto &module : model.modules()) {
    if (auto *linear = module->as<torch::nn::Linear>()) {
      linear->weight.normal_(0.0, kInitializerRange);
      if (linear->bias.defined())
        linear->bias.zero_();
    } else if (auto *embedding = module->as<torch::nn::Embedding>()) {
      embedding->weight.normal_(0.0, kInitializerRange);
      if (auto padding = embedding->options.padding_idx())
        embedding->weight[*padding].zero_();
    } else if (auto *norm = module->as<torch::nn::LayerNorm>()) {
      norm->weight.fill_(1.0);
      norm->bias.zero_();
    }
  }
}

void setAttentionStorage(torch::nn::Module &model, torch::ScalarType storage) {
  for (const auto &module : model.modules())
    if (auto *attention = module->as<BertSelfAttention>())
      attention->storage = storage;
}

} // namespace quantbert::train
