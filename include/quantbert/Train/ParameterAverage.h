//===- ParameterAverage.h - Moving average of the parameters ----*- C++ -*-===//
//
// Polyak averaging for fine-tuning: an exponential moving average of the
// parameters, the shadow variables of tf.train.ExponentialMovingAverage.
// After optimizer step t (1 for the first) every average moves toward its
// parameter with decay min(decay, (1 + t) / (10 + t)), so the average does
// not stay anchored to the starting point when the run is short. The
// trainer evaluates and saves the average instead of the last iterate:
// the average is a smoother model, and the dev score that selects the best
// checkpoint is measured on something less noisy than one step's weights.
//
// Buffers (e.g. quantization-aware training's activation ranges) are not
// averaged: they are running statistics of their own.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRAIN_PARAMETERAVERAGE_H
#define QUANTBERT_TRAIN_PARAMETERAVERAGE_H

#include "quantbert/Support/Error.h"
#include "quantbert/Support/Safetensors.h"
#include "quantbert/Train/Checkpoint.h"

#include <torch/torch.h>

#include <string>
#include <vector>

namespace quantbert::train {

class ParameterAverage {
public:
  /// Starts the average at `model`'s current parameters. `decay` must be in
  /// [0, 1).
  ParameterAverage(torch::nn::Module &model, double decay);

  /// The decay applied after optimizer step `step` (steps done, from 1).
  double decayAt(int64_t step) const;

  /// Moves the average toward the parameters after optimizer step `step`.
  void update(int64_t step);

  /// Exchanges the parameters' values with the average's: once to evaluate
  /// or save the average, a second time to continue training.
  void swap();

  /// Adds the average as F32 tensors `prefix` + parameter name.
  Error save(SafetensorsWriter &writer, const std::string &prefix) const;

  /// Restores an average written by save(): every parameter's tensor must
  /// be present with its shape.
  Error load(const SafetensorsFile &file, const std::string &prefix);

private:
  std::vector<torch::Tensor> parameters_;
  /// By parameter name, in the model's parameter order.
  NamedTensors average_;
  double decay_;
};

} // namespace quantbert::train

#endif // QUANTBERT_TRAIN_PARAMETERAVERAGE_H
