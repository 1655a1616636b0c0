//===- Checkpoint.cpp - HF checkpoint I/O of the LibTorch model -----------===//
//
// Parameters go to and from safetensors as raw little-endian bytes: no
// arithmetic touches them, so a round trip is bit-exact. F16 and BF16 files
// (transformers' half-precision saves) are widened exactly on load.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/Checkpoint.h"

#include "quantbert/Support/FileIO.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

namespace quantbert::train {

namespace {

bool hasAnyPrefix(const std::string &name,
                  const std::vector<std::string> &prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(), [&](const auto &p) {
    return name.compare(0, p.size(), p) == 0;
  });
}

/// Tensors transformers writes that are buffers or tied copies here.
bool isNonParameterTensor(const std::string &name) {
  return name == "bert.embeddings.position_ids" ||
         name == "cls.predictions.decoder.weight" ||
         name == "cls.predictions.decoder.bias";
}

std::vector<int64_t> shapeOf(const torch::Tensor &t) {
  return std::vector<int64_t>(t.sizes().begin(), t.sizes().end());
}

} // namespace

Error addParameters(SafetensorsWriter &writer, torch::nn::Module &model,
                    const std::string &prefix) {
  for (const auto &item : model.named_parameters()) {
    torch::Tensor value =
        item.value().detach().to(torch::kCPU, torch::kFloat32).contiguous();
    if (Error err = writer.add(prefix + item.key(), DType::F32, shapeOf(value),
                               value.data_ptr<float>(),
                               value.numel() * sizeof(float)))
      return err;
  }
  return Error::success();
}

Error addF32Tensors(SafetensorsWriter &writer,
                    const NamedTensors &tensors,
                    const std::string &prefix, const std::string &what) {
  for (const auto &item : tensors) {
    torch::Tensor value = item.value().detach().to(torch::kCPU).contiguous();
    if (value.scalar_type() != torch::kFloat32)
      return Error::failure(what + " '" + item.key() +
                            "' is not float32; the training state holds F32 " +
                            what + "s only");
    if (Error err = writer.add(prefix + item.key(), DType::F32, shapeOf(value),
                               value.data_ptr<float>(),
                               value.numel() * sizeof(float)))
      return err;
  }
  return Error::success();
}

Error loadF32Tensors(const SafetensorsFile &file,
                     NamedTensors &tensors,
                     const std::string &prefix) {
  torch::NoGradGuard noGrad;
  for (auto &item : tensors) {
    torch::Tensor &tensor = item.value();
    Expected<const TensorInfo *> info =
        file.requireTensor(prefix + item.key(), DType::F32, shapeOf(tensor));
    if (!info)
      return info.error();
    ByteView bytes = file.bytes(**info);
    torch::Tensor host = torch::empty(tensor.sizes(), torch::kFloat32);
    std::memcpy(host.data_ptr<float>(), bytes.data, bytes.size);
    tensor.copy_(host);
  }
  return Error::success();
}

Error loadParameters(torch::nn::Module &model, const SafetensorsFile &file,
                     const LoadPolicy &policy, const std::string &prefix) {
  torch::NoGradGuard noGrad;
  std::set<std::string> used;
  for (auto &item : model.named_parameters()) {
    std::string name = prefix + item.key();
    torch::Tensor &param = item.value();
    const TensorInfo *info = file.find(name);
    if (!info) {
      if (hasAnyPrefix(name, policy.optionalPrefixes))
        continue;
      return Error::failure("missing tensor '" + name + "'");
    }
    used.insert(name);
    if (info->dtype != DType::F32 && info->dtype != DType::F16 &&
        info->dtype != DType::BF16)
      return Error::failure("tensor '" + name + "' has dtype " +
                            std::string(dtypeName(info->dtype)) +
                            ", expected F32 (or F16/BF16)");
    if (info->shape != shapeOf(param))
      return Error::failure("tensor '" + name + "' has shape " +
                            formatShape(info->shape) + ", expected " +
                            formatShape(shapeOf(param)));
    if (info->dtype == DType::F32) {
      ByteView bytes = file.bytes(*info);
      torch::Tensor host = torch::empty(param.sizes(), torch::kFloat32);
      std::memcpy(host.data_ptr<float>(), bytes.data, bytes.size);
      param.copy_(host);
      continue;
    }
    Expected<std::vector<float>> values = file.readF32(name);
    if (!values)
      return values.error();
    param.copy_(torch::from_blob(values->data(), param.sizes(), torch::kFloat32));
  }
  for (const TensorInfo &info : file.tensors())
    if (!used.count(info.name) && !isNonParameterTensor(info.name) &&
        !hasAnyPrefix(info.name, policy.ignoredPrefixes))
      return Error::failure("unexpected tensor '" + info.name +
                            "' (no such parameter in the model)");
  return Error::success();
}

Error saveCheckpoint(const std::string &dir, const BertConfig &config,
                     torch::nn::Module &model, const std::string &vocabPath) {
  if (Error err = createDirectories(dir))
    return err;
  if (Error err = config.save(dir + "/config.json"))
    return err;
  Expected<std::string> vocab = readFile(vocabPath);
  if (!vocab)
    return vocab.error();
  if (Error err = writeFileAtomically(dir + "/vocab.txt", *vocab))
    return err;
  SafetensorsWriter writer;
  if (Error err = writer.setMetadata("format", "pt"))
    return err;
  if (Error err = addParameters(writer, model))
    return err;
  return writer.writeAtomically(dir + "/model.safetensors");
}

Expected<BertConfig> loadCheckpointConfig(const std::string &dir) {
  return BertConfig::load(dir + "/config.json");
}

Error loadCheckpointWeights(const std::string &dir, torch::nn::Module &model,
                            const LoadPolicy &policy) {
  std::string path = dir + "/model.safetensors";
  Expected<SafetensorsFile> file = SafetensorsFile::open(path);
  if (!file)
    return file.error();
  if (Error err = loadParameters(model, *file, policy))
    return Error::failure(path + ": " + err.message());
  return Error::success();
}

} // namespace quantbert::train
