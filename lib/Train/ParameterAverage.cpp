//===- ParameterAverage.cpp - Moving average of a model's parameters ------===//

#include "quantbert/Train/ParameterAverage.h"

#include <algorithm>

namespace quantbert::train {

ParameterAverage::ParameterAverage(torch::nn::Module &model, double decay)
    : decay_(decay) {
  torch::NoGradGuard noGrad;
  for (const auto &item : model.named_parameters()) {
    parameters_.push_back(item.value());
    average_.insert(item.key(), item.value().detach().clone());
  }
}

double ParameterAverage::decayAt(int64_t step) const {
  return std::min(decay_, double(1 + step) / double(10 + step));
}

void ParameterAverage::update(int64_t step) {
  torch::NoGradGuard noGrad;
  double decay = decayAt(step);
  for (size_t i = 0; i < parameters_.size(); ++i)
    average_[i].value().mul_(decay).add_(parameters_[i].detach(), 1.0 - decay);
}

void ParameterAverage::swap() {
  torch::NoGradGuard noGrad;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    torch::Tensor current = parameters_[i].detach().clone();
    parameters_[i].detach().copy_(average_[i].value());
    average_[i].value().copy_(current);
  }
}

Error ParameterAverage::save(SafetensorsWriter &writer,
                             const std::string &prefix) const {
  return addF32Tensors(writer, average_, prefix, "average");
}

Error ParameterAverage::load(const SafetensorsFile &file,
                             const std::string &prefix) {
  return loadF32Tensors(file, average_, prefix);
}

} // namespace quantbert::train
