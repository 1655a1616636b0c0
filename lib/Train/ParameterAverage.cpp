//===- ParameterAverage.cpp - Moving average of a model's parameters ------===//

#include "quantbert/Train/ParameterAverage.h"

#include <algorithm>
#include <cstring>

namespace quantbert::train {

ParameterAverage::ParameterAverage(torch::nn::Module &model, double decay)
    : decay_(decay) {
  torch::NoGradGuard noGrad;
  for (const auto &item : model.named_parameters()) {
    names_.push_back(item.key());
    parameters_.push_back(item.value());
    average_.push_back(item.value().detach().clone());
  }
}

double ParameterAverage::decayAt(int64_t step) const {
  return std::min(decay_, double(1 + step) / double(10 + step));
}

void ParameterAverage::update(int64_t step) {
  torch::NoGradGuard noGrad;
  double decay = decayAt(step);
  for (size_t i = 0; i < average_.size(); ++i)
    average_[i].mul_(decay).add_(parameters_[i].detach(), 1.0 - decay);
}

void ParameterAverage::swap() {
  torch::NoGradGuard noGrad;
  for (size_t i = 0; i < average_.size(); ++i) {
    torch::Tensor current = parameters_[i].detach().clone();
    parameters_[i].detach().copy_(average_[i]);
    average_[i].copy_(current);
  }
}

Error ParameterAverage::save(SafetensorsWriter &writer,
                             const std::string &prefix) const {
  for (size_t i = 0; i < average_.size(); ++i) {
    const torch::Tensor &value = average_[i];
    if (value.scalar_type() != torch::kFloat32)
      return Error::failure("parameter '" + names_[i] +
                            "' is not float32; its average cannot be saved");
    std::vector<int64_t> shape(value.sizes().begin(), value.sizes().end());
    if (Error err = writer.add(prefix + names_[i], DType::F32, shape,
                               value.data_ptr<float>(),
                               value.numel() * sizeof(float)))
      return err;
  }
  return Error::success();
}

Error ParameterAverage::load(const SafetensorsFile &file,
                             const std::string &prefix) {
  for (size_t i = 0; i < average_.size(); ++i) {
    std::vector<int64_t> shape(average_[i].sizes().begin(),
                               average_[i].sizes().end());
    Expected<const TensorInfo *> info =
        file.requireTensor(prefix + names_[i], DType::F32, shape);
    if (!info)
      return info.error();
    ByteView bytes = file.bytes(**info);
    std::memcpy(average_[i].data_ptr<float>(), bytes.data, bytes.size);
  }
  return Error::success();
}

} // namespace quantbert::train
