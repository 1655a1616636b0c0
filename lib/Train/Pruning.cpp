//===- Pruning.cpp - Structured pruning of heads and FFN neurons ----------===//
//
// Importance through gates, the removal of heads and neurons by slicing the
// linears' weights, and the global plan (Pruning.h).
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/Pruning.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace quantbert::train {

namespace {

BertLayerImpl &layerAt(BertModel &bert, int64_t layer) {
  return *bert->encoder->layer[size_t(layer)]->as<BertLayer>();
}

/// Replaces `linear`'s weight and bias (in place, keeping the parameter
/// objects) with the rows (dim 0, outputs) or columns (dim 1, inputs) at
/// `keep`. A factorized linear's inputs are those of its down factor.
void sliceLinear(QuantLinearImpl &linear, const torch::Tensor &keep,
                 int64_t dim) {
  if (dim == 1 && linear.down)
    return sliceLinear(*linear.down, keep, 1);
  torch::NoGradGuard noGrad;
  // A gradient of the old shape would meet the new one in the next
  // backward pass.
  linear.weight.mutable_grad() = torch::Tensor();
  linear.weight.set_data(linear.weight.index_select(dim, keep).contiguous());
  if (dim == 0) {
    if (linear.bias.defined()) {
      linear.bias.mutable_grad() = torch::Tensor();
      linear.bias.set_data(linear.bias.index_select(0, keep).contiguous());
    }
    linear.options.out_features(linear.weight.size(0));
  } else {
    linear.options.in_features(linear.weight.size(1));
  }
}

/// The indices of [0, count) not in `removed`, which must be unique and in
/// range and leave at least `minimumKept`.
Expected<std::vector<int64_t>> keptIndices(std::vector<int64_t> removed,
                                           int64_t count, int64_t minimumKept,
                                           const std::string &what) {
  std::sort(removed.begin(), removed.end());
  if (std::adjacent_find(removed.begin(), removed.end()) != removed.end())
    return Error::failure(what + ": an index is repeated");
  for (int64_t index : removed)
    if (index < 0 || index >= count)
      return Error::failure(what + ": index " + std::to_string(index) +
                            " is outside [0, " + std::to_string(count) + ")");
  if (count - int64_t(removed.size()) < minimumKept)
    return Error::failure(what + ": removing " +
                          std::to_string(removed.size()) + " of " +
                          std::to_string(count) + " leaves fewer than " +
                          std::to_string(minimumKept));
  std::vector<int64_t> kept;
  for (int64_t i = 0; i < count; ++i)
    if (!std::binary_search(removed.begin(), removed.end(), i))
      kept.push_back(i);
  return kept;
}

Error checkFloat(QuantLinearImpl &linear, const std::string &name) {
  if (linear.spec() || (linear.down && linear.down->spec()))
    return Error::failure(name + " has a quantization spec: prune the float "
                                 "model, then quantize it");
  return Error::success();
}

/// Indices of the `count` smallest of `scores` (ties: lower index first).
std::vector<int64_t> lowest(const std::vector<double> &scores, int64_t count) {
  std::vector<int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return scores[a] < scores[b]; });
  order.resize(size_t(std::max<int64_t>(0, count)));
  std::sort(order.begin(), order.end());
  return order;
}

std::vector<double> normalized(const torch::Tensor &scores) {
  torch::Tensor values = scores.to(torch::kFloat64).contiguous();
  double norm = values.norm().item<double>();
  if (norm > 0)
    values = values / norm;
  return std::vector<double>(values.data_ptr<double>(),
                             values.data_ptr<double>() + values.numel());
}

/// One global ranking of the units of every layer (normalized scores):
/// returns per layer how many of its units are among the `removeTotal`
/// lowest, with each layer keeping at least `minimumKept`.
std::vector<int64_t> globalShares(const std::vector<std::vector<double>> &scores,
                                  int64_t removeTotal, int64_t minimumKept) {
  struct Unit {
    double score;
    int64_t layer, index;
  };
  std::vector<Unit> units;
  for (size_t layer = 0; layer < scores.size(); ++layer)
    for (size_t i = 0; i < scores[layer].size(); ++i)
      units.push_back({scores[layer][i], int64_t(layer), int64_t(i)});
  std::stable_sort(units.begin(), units.end(), [](const Unit &a, const Unit &b) {
    return a.score < b.score;
  });
  std::vector<int64_t> shares(scores.size(), 0);
  int64_t removed = 0;
  for (const Unit &unit : units) {
    if (removed >= removeTotal)
      break;
    int64_t size = int64_t(scores[size_t(unit.layer)].size());
    if (size - shares[size_t(unit.layer)] <= minimumKept)
      continue;
    ++shares[size_t(unit.layer)];
    ++removed;
  }
  return shares;
}

} // namespace

Expected<Importance> measureImportance(TrainingTask &task, BertModel &bert,
                                       const ImportanceOptions &options) {
  if (options.batchSize <= 0)
    return Error::failure("importance: batch size must be positive");
  int64_t numLayers = int64_t(bert->encoder->layer->size());
  std::vector<torch::Tensor> headGates, neuronGates;
  for (int64_t layer = 0; layer < numLayers; ++layer) {
    BertLayerImpl &l = layerAt(bert, layer);
    // In the model's dtype, so a float64 model gets float64 gradients.
    auto gateOptions = torch::TensorOptions()
                           .dtype(l.intermediate->dense->weight.scalar_type())
                           .requires_grad(true);
    headGates.push_back(torch::ones({l.attention->self->numHeads}, gateOptions));
    neuronGates.push_back(
        torch::ones({l.intermediate->dense->weight.size(0)}, gateOptions));
  }
  std::vector<torch::Tensor> gates = headGates;
  gates.insert(gates.end(), neuronGates.begin(), neuronGates.end());

  Importance importance;
  for (int64_t layer = 0; layer < numLayers; ++layer) {
    importance.heads.push_back(
        torch::zeros({headGates[size_t(layer)].size(0)}, torch::kFloat64));
    importance.neurons.push_back(
        torch::zeros({neuronGates[size_t(layer)].size(0)}, torch::kFloat64));
  }

  bool wasTraining = task.model().is_training();
  task.model().eval();
  auto install = [&](bool on) {
    for (int64_t layer = 0; layer < numLayers; ++layer) {
      BertLayerImpl &l = layerAt(bert, layer);
      l.attention->self->headGate = on ? headGates[size_t(layer)] : torch::Tensor();
      l.intermediate->neuronGate = on ? neuronGates[size_t(layer)] : torch::Tensor();
    }
  };
  install(true);

  std::vector<int64_t> order(size_t(task.numExamples()));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 generator(options.seed);
  std::shuffle(order.begin(), order.end(), generator);
  if (options.maxExamples > 0 && int64_t(order.size()) > options.maxExamples)
    order.resize(size_t(options.maxExamples));

  Error failure = Error::success();
  try {
    for (size_t begin = 0; begin < order.size(); begin += size_t(options.batchSize)) {
      std::vector<int64_t> batch(
          order.begin() + begin,
          order.begin() + std::min(order.size(), begin + size_t(options.batchSize)));
      task.setGlobalBatch({});
      Expected<torch::Tensor> loss = task.loss(batch);
      if (!loss) {
        failure = loss.error();
        break;
      }
      // Gradients of the gates only: the parameters' .grad stay untouched.
      std::vector<torch::Tensor> grads =
          torch::autograd::grad({*loss}, gates, {}, false, false, true);
      for (int64_t layer = 0; layer < numLayers; ++layer) {
        const torch::Tensor &h = grads[size_t(layer)];
        const torch::Tensor &n = grads[size_t(numLayers + layer)];
        if (h.defined())
          importance.heads[size_t(layer)] += h.abs().to(torch::kFloat64);
        if (n.defined())
          importance.neurons[size_t(layer)] += n.abs().to(torch::kFloat64);
      }
    }
  } catch (const std::exception &e) {
    failure = Error::failure("importance: " + exceptionText(e));
  }
  install(false);
  task.model().train(wasTraining);
  if (failure)
    return failure;
  return importance;
}

Error pruneHeads(BertModel &bert, BertConfig &config, int64_t layer,
                 std::vector<int64_t> heads) {
  if (layer < 0 || layer >= config.numHiddenLayers)
    return Error::failure("prune: no layer " + std::to_string(layer));
  BertLayerImpl &l = layerAt(bert, layer);
  BertSelfAttentionImpl &self = *l.attention->self;
  std::string where = "prune heads of layer " + std::to_string(layer);
  for (auto [linear, name] :
       {std::pair{&*self.query, "query"}, {&*self.key, "key"},
        {&*self.value, "value"}, {&*l.attention->output->dense, "output"}})
    if (Error err = checkFloat(*linear, where + ": " + name))
      return err;
  Expected<std::vector<int64_t>> kept =
      keptIndices(heads, self.numHeads, 1, where);
  if (!kept)
    return kept.error();
  if (heads.empty())
    return Error::success();

  // Rows of the kept heads, in order.
  int64_t d = self.headSize;
  std::vector<int64_t> rows;
  for (int64_t head : *kept)
    for (int64_t j = 0; j < d; ++j)
      rows.push_back(head * d + j);
  torch::Tensor keep = torch::tensor(rows, torch::kInt64);
  sliceLinear(*self.query, keep, 0);
  sliceLinear(*self.key, keep, 0);
  sliceLinear(*self.value, keep, 0);
  sliceLinear(*l.attention->output->dense, keep, 1);

  // Current index -> original index, for transformers' pruned_heads.
  std::vector<int64_t> original = config.keptHeads(layer);
  std::vector<int64_t> &pruned = config.prunedHeads[layer];
  for (int64_t head : heads)
    pruned.push_back(original[size_t(head)]);
  std::sort(pruned.begin(), pruned.end());
  self.numHeads = int64_t(kept->size());
  self.headGate = torch::Tensor();
  return Error::success();
}

Error pruneNeurons(BertModel &bert, BertConfig &config, int64_t layer,
                   std::vector<int64_t> neurons) {
  if (layer < 0 || layer >= config.numHiddenLayers)
    return Error::failure("prune: no layer " + std::to_string(layer));
  BertLayerImpl &l = layerAt(bert, layer);
  std::string where = "prune FFN neurons of layer " + std::to_string(layer);
  if (Error err = checkFloat(*l.intermediate->dense, where + ": intermediate"))
    return err;
  if (Error err = checkFloat(*l.output->dense, where + ": output"))
    return err;
  int64_t width = config.ffnWidth(layer);
  Expected<std::vector<int64_t>> kept = keptIndices(neurons, width, 1, where);
  if (!kept)
    return kept.error();
  if (neurons.empty())
    return Error::success();
  torch::Tensor keep = torch::tensor(*kept, torch::kInt64);
  sliceLinear(*l.intermediate->dense, keep, 0);
  sliceLinear(*l.output->dense, keep, 1);
  if (config.intermediateSizes.empty())
    config.intermediateSizes.assign(size_t(config.numHiddenLayers),
                                    config.intermediateSize);
  config.intermediateSizes[size_t(layer)] = int64_t(kept->size());
  l.intermediate->neuronGate = torch::Tensor();
  return Error::success();
}

Expected<PruningPlan> planPruning(const Importance &importance,
                                  const BertConfig &config,
                                  const PruningTarget &target) {
  for (auto [value, name] : {std::pair{target.headFraction, "head"},
                             {target.neuronFraction, "FFN neuron"}})
    if (!(value >= 0 && value < 1))
      return Error::failure(std::string("prune: the ") + name +
                            " fraction must lie in [0, 1), got " +
                            std::to_string(value));
  int64_t multiple = target.neuronMultiple;
  if (multiple <= 0 ||
      (target.neuronFraction > 0 && config.intermediateSize % multiple != 0))
    return Error::failure("prune: the FFN width multiple " +
                          std::to_string(multiple) +
                          " must divide intermediate_size (" +
                          std::to_string(config.intermediateSize) + ")");
  int64_t layers = config.numHiddenLayers;
  if (int64_t(importance.heads.size()) != layers ||
      int64_t(importance.neurons.size()) != layers)
    return Error::failure("prune: importance scores for " +
                          std::to_string(importance.heads.size()) +
                          " layers, the model has " + std::to_string(layers));
  std::vector<std::vector<double>> headScores, neuronScores;
  int64_t heads = 0, neurons = 0;
  for (int64_t layer = 0; layer < layers; ++layer) {
    const torch::Tensor &h = importance.heads[size_t(layer)];
    const torch::Tensor &n = importance.neurons[size_t(layer)];
    if (h.numel() != config.numHeads(layer) ||
        n.numel() != config.ffnWidth(layer))
      return Error::failure("prune: layer " + std::to_string(layer) + " has " +
                            std::to_string(config.numHeads(layer)) +
                            " heads and " +
                            std::to_string(config.ffnWidth(layer)) +
                            " neurons, the scores " +
                            std::to_string(h.numel()) + " and " +
                            std::to_string(n.numel()));
    headScores.push_back(normalized(h));
    neuronScores.push_back(normalized(n));
    heads += h.numel();
    neurons += n.numel();
  }

  PruningPlan plan;
  // Targets count against the unpruned model, so repeated pruning towards a
  // growing fraction removes only the difference.
  int64_t keepHeads = int64_t(std::ceil(
      (1 - target.headFraction) * double(layers * config.numAttentionHeads) -
      1e-9));
  std::vector<int64_t> headShares =
      globalShares(headScores, heads - keepHeads, 1);
  int64_t keepNeurons = int64_t(std::ceil(
      (1 - target.neuronFraction) * double(layers * config.intermediateSize) -
      1e-9));
  std::vector<int64_t> neuronShares =
      globalShares(neuronScores, neurons - keepNeurons, multiple);
  for (int64_t layer = 0; layer < layers; ++layer) {
    if (headShares[size_t(layer)] > 0)
      plan.heads[layer] =
          lowest(headScores[size_t(layer)], headShares[size_t(layer)]);
    // Round the layer's width to a multiple (nearest; at least one
    // multiple kept).
    int64_t width = config.ffnWidth(layer);
    if (neuronShares[size_t(layer)] == 0)
      continue; // nothing of this layer is among the lowest: no rounding
    int64_t kept = width - neuronShares[size_t(layer)];
    int64_t rounded =
        std::max(multiple, (kept + multiple / 2) / multiple * multiple);
    rounded = std::min(rounded, width);
    if (rounded < width)
      plan.neurons[layer] = lowest(neuronScores[size_t(layer)], width - rounded);
  }
  return plan;
}

Error applyPruning(BertModel &bert, BertConfig &config, const PruningPlan &plan) {
  for (const auto &[layer, heads] : plan.heads)
    if (Error err = pruneHeads(bert, config, layer, heads))
      return err;
  for (const auto &[layer, neurons] : plan.neurons)
    if (Error err = pruneNeurons(bert, config, layer, neurons))
      return err;
  return Error::success();
}

} // namespace quantbert::train
