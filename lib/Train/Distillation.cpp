//===- Distillation.cpp - Knowledge distillation from a BERT teacher ------===//
//
// The losses, layer maps and training task of Distillation.h. Every term
// follows the reference code of its paper: TinyBERT's soft cross-entropy
// (summed over classes, averaged over the batch), TernaryBERT's masked
// attention-score MSE, and Kim et al.'s per-sample attention-map KL and
// attention-output MSE (kd-qat-large-enc, main.py).
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/Distillation.h"

#include "quantbert/Train/Checkpoint.h"
#include "quantbert/Train/Metrics.h"
#include "quantbert/Support/FileIO.h"

#include <filesystem>

namespace quantbert::train {

namespace F = torch::nn::functional;

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

torch::Tensor predictionLoss(const torch::Tensor &studentLogits,
                             const torch::Tensor &teacherLogits,
                             double temperature) {
  torch::Tensor targets = torch::softmax(teacherLogits / temperature, -1);
  torch::Tensor logProbs = torch::log_softmax(studentLogits / temperature, -1);
  return -(targets * logProbs).sum(-1).mean();
}

torch::Tensor attentionScoreLoss(const torch::Tensor &studentScores,
                                 const torch::Tensor &teacherScores) {
  auto zeroMasked = [](const torch::Tensor &scores) {
    return scores.masked_fill(scores <= kMaskedScoreThreshold, 0.0);
  };
  return F::mse_loss(zeroMasked(studentScores), zeroMasked(teacherScores));
}

torch::Tensor attentionMapKlLoss(const torch::Tensor &studentProbs,
                                 const torch::Tensor &teacherProbs,
                                 const torch::Tensor &attentionMask) {
  torch::Tensor real = attentionMask.to(studentProbs.scalar_type());
  // [batch, 1, seq, seq]: 1 where query and key are both real tokens.
  torch::Tensor valid = (real.unsqueeze(2) * real.unsqueeze(1)).unsqueeze(1);
  torch::Tensor pt = teacherProbs.clamp_min(kProbabilityFloor);
  torch::Tensor ps = studentProbs.clamp_min(kProbabilityFloor);
  torch::Tensor kl = (pt * (pt.log() - ps.log()) * valid).sum({-1, -2});
  torch::Tensor lengths = real.sum(-1, /*keepdim=*/true).clamp_min(1.0);
  return (kl / lengths).mean();
}

//===----------------------------------------------------------------------===//
// Layer mapping
//===----------------------------------------------------------------------===//

std::string_view layerMapKindName(LayerMapKind kind) {
  switch (kind) {
  case LayerMapKind::Full:
    return "full";
  case LayerMapKind::Uniform:
    return "uniform";
  case LayerMapKind::KeepFirst:
    return "first";
  }
  return "full";
}

std::optional<LayerMapKind> parseLayerMapKind(std::string_view name) {
  for (LayerMapKind kind :
       {LayerMapKind::Full, LayerMapKind::Uniform, LayerMapKind::KeepFirst})
    if (layerMapKindName(kind) == name)
      return kind;
  return std::nullopt;
}

Expected<std::vector<LayerPair>> mapLayers(LayerMapKind kind,
                                           int64_t studentLayers,
                                           int64_t teacherLayers) {
  std::string what = "layer map '" + std::string(layerMapKindName(kind)) +
                     "': student of " + std::to_string(studentLayers) +
                     " layers, teacher of " + std::to_string(teacherLayers);
  if (studentLayers <= 0 || teacherLayers <= 0)
    return Error::failure(what + ": depths must be positive");
  if (kind == LayerMapKind::Full && studentLayers != teacherLayers)
    return Error::failure(what + ": needs equal depths (use 'uniform' or "
                                 "'first' for a shallower student)");
  if (studentLayers > teacherLayers)
    return Error::failure(what + ": the student is deeper than the teacher");
  std::vector<LayerPair> pairs;
  for (int64_t m = 0; m <= studentLayers; ++m)
    pairs.push_back({m, kind == LayerMapKind::Uniform
                            ? m * teacherLayers / studentLayers
                            : m});
  return pairs;
}

//===----------------------------------------------------------------------===//
// The combined objective
//===----------------------------------------------------------------------===//

Error DistillationOptions::setTerms(std::string_view list) {
  pred = rep = attScore = map = out = false;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = std::min(list.find(',', start), list.size());
    std::string_view term = list.substr(start, end - start);
    if (term == "pred")
      pred = true;
    else if (term == "rep")
      rep = true;
    else if (term == "attscore")
      attScore = true;
    else if (term == "map")
      map = true;
    else if (term == "out")
      out = true;
    else
      return Error::failure("unknown distillation term '" + std::string(term) +
                            "' (expected pred, rep, attscore, map or out)");
    start = end + 1;
  }
  return Error::success();
}

Error DistillationOptions::setUnifiedWeight(double w) {
  if (!(w >= 0.0 && w <= 1.0))
    return Error::failure("unified attention-loss weight " +
                          std::to_string(w) + " is not in [0, 1]");
  mapWeight = w;
  outWeight = 1.0 - w;
  return Error::success();
}

std::string DistillationOptions::termNames() const {
  std::string names;
  for (auto [chosen, name] : {std::pair<bool, const char *>{pred, "pred"},
                              {rep, "rep"},
                              {attScore, "attscore"},
                              {map, "map"},
                              {out, "out"}})
    if (chosen)
      names += (names.empty() ? "" : ",") + std::string(name);
  return names;
}

namespace {

/// Hidden state `index` of `outputs`: 0 the embedding output, m layer m's.
const torch::Tensor &hiddenState(const EncoderOutputs &outputs, int64_t index) {
  return index == 0 ? outputs.embeddingOutput
                    : outputs.layers[index - 1].hiddenStates;
}

/// `sum` + `term`, where an undefined `sum` is zero.
torch::Tensor accumulate(const torch::Tensor &sum, const torch::Tensor &term) {
  return sum.defined() ? sum + term : term;
}

} // namespace

DistillationLosses distillationLoss(const DistillationOptions &options,
                                    const std::vector<LayerPair> &layers,
                                    const torch::Tensor &studentLogits,
                                    const EncoderOutputs &student,
                                    const torch::Tensor &teacherLogits,
                                    const EncoderOutputs &teacher,
                                    const torch::Tensor &attentionMask) {
  DistillationLosses losses;
  if (options.pred)
    losses.pred =
        predictionLoss(studentLogits, teacherLogits, options.temperature);
  for (const LayerPair &pair : layers) {
    if (options.rep)
      losses.rep = accumulate(
          losses.rep, F::mse_loss(hiddenState(student, pair.student),
                                  hiddenState(teacher, pair.teacher)));
    if (pair.student == 0)
      continue;
    const LayerTrace &s = student.layers[pair.student - 1];
    const LayerTrace &t = teacher.layers[pair.teacher - 1];
    if (options.attScore)
      losses.attScore =
          accumulate(losses.attScore,
                     attentionScoreLoss(s.attentionScores, t.attentionScores));
    if (options.map)
      losses.map = accumulate(losses.map,
                              attentionMapKlLoss(s.attentionProbs,
                                                 t.attentionProbs,
                                                 attentionMask));
    if (options.out)
      losses.out = accumulate(
          losses.out, F::mse_loss(s.attentionOutput, t.attentionOutput));
  }
  torch::Tensor total;
  for (const torch::Tensor &term : {losses.pred, losses.rep, losses.attScore})
    if (term.defined())
      total = accumulate(total, term);
  if (losses.map.defined())
    total = accumulate(total, options.mapWeight * losses.map);
  if (losses.out.defined())
    total = accumulate(total, options.outWeight * losses.out);
  losses.total = total.defined() ? total : torch::zeros({});
  return losses;
}

//===----------------------------------------------------------------------===//
// The training task
//===----------------------------------------------------------------------===//

Expected<std::unique_ptr<DistillationTask>> DistillationTask::create(
    BertConfig studentConfig, BertForSequenceClassification student,
    const BertConfig &teacherConfig, BertForSequenceClassification teacher,
    std::vector<LayerPair> layers, DistillationOptions options,
    Tokenizer tokenizer, std::string vocabPath, TextDataset trainSet,
    std::optional<TextDataset> devSet, int64_t maxSeqLength) {
  auto mismatch = [&](const std::string &what, int64_t s, int64_t t) {
    return Error::failure("distillation: student and teacher differ in " +
                          what + " (" + std::to_string(s) + " vs " +
                          std::to_string(t) + ")");
  };
  // Freezing the teacher would freeze the student too.
  if (student.get() == teacher.get())
    return Error::failure("distillation: the student and the teacher must be "
                          "separate models (load the teacher twice)");
  if (studentConfig.numLabels != teacherConfig.numLabels)
    return mismatch("number of labels", studentConfig.numLabels,
                    teacherConfig.numLabels);
  // No learned projection (TinyBERT's W_h): the per-layer terms compare
  // tensors of the same shape.
  if ((options.rep || options.out) &&
      studentConfig.hiddenSize != teacherConfig.hiddenSize)
    return mismatch("hidden size, which rep and out need equal",
                    studentConfig.hiddenSize, teacherConfig.hiddenSize);
  if (!options.pred && !options.rep && !options.attScore && !options.map &&
      !options.out)
    return Error::failure("distillation: no loss term chosen");
  for (const LayerPair &pair : layers)
    if (pair.student < 0 || pair.student > studentConfig.numHiddenLayers ||
        pair.teacher < 0 || pair.teacher > teacherConfig.numHiddenLayers)
      return Error::failure(
          "distillation: layer pair (" + std::to_string(pair.student) + ", " +
          std::to_string(pair.teacher) + ") is outside a student of " +
          std::to_string(studentConfig.numHiddenLayers) +
          " and a teacher of " +
          std::to_string(teacherConfig.numHiddenLayers) + " layers");
  // Layer pair (s, t) with s, t >= 1 compares student layer s-1's attention
  // with teacher layer t-1's (pair 0 is the embeddings): head for head, so a
  // pruned layer cannot take these terms.
  if (options.attScore || options.map)
    for (const LayerPair &pair : layers)
      if (pair.student > 0 && pair.teacher > 0 &&
          studentConfig.numHeads(pair.student - 1) !=
              teacherConfig.numHeads(pair.teacher - 1))
        return mismatch("attention heads of layer pair (" +
                            std::to_string(pair.student) + ", " +
                            std::to_string(pair.teacher) +
                            "), which attscore and map need equal",
                        studentConfig.numHeads(pair.student - 1),
                        teacherConfig.numHeads(pair.teacher - 1));

  teacher->eval();
  for (torch::Tensor &parameter : teacher->parameters())
    parameter.set_requires_grad(false);
  std::unique_ptr<DistillationTask> task(new DistillationTask());
  task->config_ = std::move(studentConfig);
  task->student_ = std::move(student);
  task->teacher_ = std::move(teacher);
  task->layers_ = std::move(layers);
  task->options_ = options;
  task->tokenizer_ = std::move(tokenizer);
  task->vocabPath_ = std::move(vocabPath);
  task->trainSet_ = std::move(trainSet);
  task->devSet_ = std::move(devSet);
  task->maxSeqLength_ = maxSeqLength;
  return task;
}

Expected<torch::Tensor>
DistillationTask::loss(const std::vector<int64_t> &examples) {
  Expected<EncoderInputs> inputs = encodeExamples(
      tokenizer_, trainSet_, examples, globalBatch_, maxSeqLength_);
  if (!inputs)
    return inputs.error();
  EncoderOutputs teacherOutputs;
  torch::Tensor teacherLogits;
  {
    torch::NoGradGuard noGrad;
    teacherLogits = teacher_->forward(*inputs, &teacherOutputs);
  }
  EncoderOutputs studentOutputs;
  torch::Tensor studentLogits = student_->forward(*inputs, &studentOutputs);
  DistillationLosses losses =
      distillationLoss(options_, layers_, studentLogits, studentOutputs,
                       teacherLogits, teacherOutputs, inputs->attentionMask);
  last_ = {};
  for (auto [from, to] :
       {std::pair{&losses.pred, &last_.pred}, {&losses.rep, &last_.rep},
        {&losses.attScore, &last_.attScore}, {&losses.map, &last_.map},
        {&losses.out, &last_.out}, {&losses.total, &last_.total}})
    if (from->defined())
      *to = from->detach();
  return losses.total;
}

Expected<std::optional<double>> DistillationTask::evaluate() {
  return devAccuracy(student_, tokenizer_, devSet_, maxSeqLength_,
                     config_.numLabels);
}

Error DistillationTask::saveModel(const std::string &dir) {
  return saveCheckpoint(dir, config_, *student_, vocabPath_);
}

Expected<Teacher> loadTeacher(const std::string &dir,
                              const std::vector<std::string> &labelNames,
                              const std::string &studentVocabPath) {
  if (std::filesystem::exists(dir + "/qat.json"))
    return Error::failure(dir + ": a QAT checkpoint; the teacher must be a "
                                "float one");
  Expected<BertConfig> config = loadCheckpointConfig(dir);
  if (!config)
    return config.error();
  for (int64_t i = 0;
       i < std::min(int64_t(labelNames.size()), config->numLabels); ++i)
    if (config->labelName(i) != labelNames[size_t(i)])
      return Error::failure(dir + ": the teacher's label " + std::to_string(i) +
                            " is '" + config->labelName(i) +
                            "', the training set's '" + labelNames[size_t(i)] +
                            "'");
  Expected<std::string> teacherVocab = readFile(dir + "/vocab.txt");
  if (!teacherVocab)
    return teacherVocab.error();
  Expected<std::string> studentVocab = readFile(studentVocabPath);
  if (!studentVocab)
    return studentVocab.error();
  if (*teacherVocab != *studentVocab)
    return Error::failure(dir + "/vocab.txt differs from the student's " +
                          studentVocabPath);
  Teacher teacher{*config, BertForSequenceClassification(*config)};
  if (Error err = loadCheckpointWeights(dir, *teacher.model))
    return err;
  return teacher;
}

} // namespace quantbert::train
