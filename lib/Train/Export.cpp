//===- Export.cpp - Compressed bundles: export and re-import --------------===//
//
// Export writes each quantized module's QuantizedMatrix (the form its eval
// forward uses) under the tensor names of docs/formats.md; import reads the
// same names back into QuantizedMatrix and freezes it into the module, so a
// bundle's eval forward consumes the exported codes and scales unchanged.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/Export.h"

#include "quantbert/Support/BitPacking.h"
#include "quantbert/Support/BlockSparse.h"
#include "quantbert/Support/FileIO.h"
#include "quantbert/Support/Safetensors.h"
#include "quantbert/Support/StoredWeight.h"
#include "quantbert/Train/Checkpoint.h"

#include <cstring>
#include <filesystem>
#include <map>
#include <set>

namespace quantbert::train {

namespace {

std::vector<int64_t> shapeOf(const torch::Tensor &t) {
  return std::vector<int64_t>(t.sizes().begin(), t.sizes().end());
}

Error addF32(SafetensorsWriter &writer, const std::string &name,
             const torch::Tensor &tensor) {
  torch::Tensor value =
      tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  return writer.add(name, DType::F32, shapeOf(value), value.data_ptr<float>(),
                    size_t(value.numel()) * sizeof(float));
}

/// Adds the tensors of `module`'s quantized weight (docs/formats.md's names:
/// `<module>.weight`, `.weight_scale`, `.weight_offset`) and fills `quant`.
/// With `blockSparse` (linears), int8 and ternary codes whose 16 x 4
/// block-sparse encoding (BlockSparse.h, the runtime's kernel block) is
/// smaller than the dense matrix are written in it, the mask as
/// `<module>.weight_block_mask`; so are 1-bit codes with whole 32 x 64
/// blocks of zeros (a pruned binary linear), in the binary kernel's blocks.
Error addQuantizedWeight(SafetensorsWriter &writer, const std::string &module,
                         const QuantizedMatrix &matrix, WeightQuant &quant,
                         bool blockSparse) {
  int64_t rows = matrix.codes.size(0), cols = matrix.codes.size(1);
  torch::Tensor codes = matrix.codes.contiguous();
  quant.quantizer = matrix.quantizer;
  quant.weight = module + ".weight";
  if (isBinaryQuantizer(matrix.quantizer)) {
    quant.precision = Precision::Binary;
    // A pruned 1-bit linear (whole 32 x 64 blocks of 0 codes): only the
    // block-sparse encoding keeps its zeros.
    PackedBinaryBlocks sparse;
    if (blockSparse)
      sparse = packBinaryBlocks(codes.data_ptr<int8_t>(), rows, cols);
    BlockGrid grid = binaryBlockGrid(rows, cols);
    if (blockSparse && sparse.storedBlocks < grid.blockCount()) {
      quant.sparsity = BlockSparsity{grid.blockRows, grid.blockCols,
                                     module + ".weight_block_mask"};
      if (Error err = writer.add(quant.sparsity->mask, DType::U8,
                                 {grid.blockRowCount(), grid.maskRowBytes()},
                                 sparse.mask.data(), sparse.mask.size()))
        return err;
      if (Error err = writer.add(quant.weight, DType::I64,
                                 {sparse.storedBlocks, kBinaryBlockRows},
                                 sparse.words.data(),
                                 sparse.words.size() * sizeof(uint64_t)))
        return err;
    } else {
      int64_t words = packedWordCount(cols);
      std::vector<uint64_t> packed(static_cast<size_t>(rows * words));
      std::vector<float> row(static_cast<size_t>(cols));
      const int8_t *signs = codes.data_ptr<int8_t>();
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c)
          row[c] = signs[r * cols + c];
        packSignBits(row.data(), cols, packed.data() + r * words);
      }
      if (Error err = writer.add(quant.weight, DType::I64, {rows, words},
                                 packed.data(), packed.size() * sizeof(uint64_t)))
        return err;
    }
  } else {
    quant.precision =
        matrix.quantizer == Quantizer::Twn ? Precision::Ternary : Precision::I8;
    BlockGrid grid{rows, cols, kSparseInt8BlockRows, kSparseInt8BlockCols};
    PackedBlocks<int8_t> packed;
    if (blockSparse)
      packed = packBlocks(codes.data_ptr<int8_t>(), grid);
    if (blockSparse && int64_t(packed.blocks.size() + packed.mask.size()) <
                           rows * cols) {
      quant.sparsity = BlockSparsity{grid.blockRows, grid.blockCols,
                                     module + ".weight_block_mask"};
      if (Error err = writer.add(quant.sparsity->mask, DType::U8,
                                 {grid.blockRowCount(), grid.maskRowBytes()},
                                 packed.mask.data(), packed.mask.size()))
        return err;
      if (Error err = writer.add(
              quant.weight, DType::I8,
              {packed.storedBlocks, grid.blockRows, grid.blockCols},
              packed.blocks.data(), packed.blocks.size()))
        return err;
    } else if (Error err = writer.add(quant.weight, DType::I8, {rows, cols},
                                      codes.data_ptr<int8_t>(),
                                      size_t(rows * cols))) {
      return err;
    }
  }
  if (matrix.quantizer != Quantizer::BinarySign) {
    quant.scale = module + ".weight_scale";
    if (Error err = addF32(writer, quant.scale, matrix.scale))
      return err;
  }
  if (matrix.quantizer == Quantizer::AsymmetricIndex) {
    // Both as per-tensor tensors: an inline zero point would be written as
    // a JSON double (-128.0).
    quant.zeroPoint =
        ScalarOrTensor{std::nullopt, module + ".weight_zero_point"};
    torch::Tensor zeroPoint =
        matrix.zeroPoint.defined()
            ? matrix.zeroPoint.to(torch::kInt32).contiguous()
            : torch::zeros({}, torch::kInt32);
    if (Error err = writer.add(quant.zeroPoint->tensor, DType::I32,
                               shapeOf(zeroPoint), zeroPoint.data_ptr<int32_t>(),
                               size_t(zeroPoint.numel()) * sizeof(int32_t)))
      return err;
    quant.offset = ScalarOrTensor{std::nullopt, module + ".weight_offset"};
    if (Error err =
            addF32(writer, quant.offset->tensor,
                   torch::scalar_tensor(matrix.offset, torch::kFloat32)))
      return err;
  }
  return Error::success();
}

/// The QuantizedMatrix an entry of quant.json describes (StoredWeight.h
/// decodes it, as for the compiler); the tensors were checked by
/// QuantConfig::checkTensors.
Expected<QuantizedMatrix> readMatrix(const SafetensorsFile &file,
                                     const WeightQuant &quant, int64_t rows,
                                     int64_t cols, const std::string &where) {
  Expected<StoredWeight> stored = readStoredWeight(file, quant, rows, cols, where);
  if (!stored)
    return stored.error();
  QuantizedMatrix matrix;
  matrix.quantizer = stored->quantizer;
  matrix.codes = torch::from_blob(stored->codes.data(), {rows, cols},
                                  torch::kInt8)
                     .clone();
  matrix.scale =
      stored->perRowScales()
          ? torch::tensor(stored->scales, torch::kFloat32)
          : torch::scalar_tensor(stored->scales.front(), torch::kFloat32);
  if (!stored->zeroPoints.empty())
    matrix.zeroPoint =
        stored->zeroPoints.size() > 1
            ? torch::tensor(stored->zeroPoints, torch::kInt32)
            : torch::scalar_tensor(stored->zeroPoints.front(), torch::kInt32);
  matrix.offset = stored->offset;
  return matrix;
}

/// The float tensor `name` of `file` (F32, or F16/BF16 widened exactly)
/// copied into `param`.
Error loadFloat(const SafetensorsFile &file, const std::string &name,
                torch::Tensor &param) {
  const TensorInfo *info = file.find(name);
  if (!info)
    return Error::failure("missing tensor '" + name + "'");
  if (info->shape != shapeOf(param))
    return Error::failure("tensor '" + name + "' has shape " +
                          formatShape(info->shape) + ", expected " +
                          formatShape(shapeOf(param)));
  Expected<std::vector<float>> values = file.readF32(name);
  if (!values)
    return values.error();
  param.copy_(torch::from_blob(values->data(), param.sizes(), torch::kFloat32));
  return Error::success();
}

std::map<std::string, torch::nn::Module *>
modulesByName(torch::nn::Module &model) {
  std::map<std::string, torch::nn::Module *> modules;
  for (const auto &item : model.named_modules())
    modules[item.key()] = item.value().get();
  return modules;
}

Error copySensitivity(const std::string &from, const std::string &to) {
  std::string path = from + "/sensitivity.json";
  if (!std::filesystem::exists(path))
    return Error::success();
  Expected<std::string> text = readFile(path);
  if (!text)
    return text.error();
  return writeFileAtomically(to + "/sensitivity.json", *text);
}

Error copyVocab(const std::string &from, const std::string &to) {
  Expected<std::string> vocab = readFile(from + "/vocab.txt");
  if (!vocab)
    return vocab.error();
  return writeFileAtomically(to + "/vocab.txt", *vocab);
}

} // namespace

Expected<LoadedModel> loadQatCheckpoint(const std::string &dir) {
  std::string qatPath = dir + "/qat.json";
  if (!std::filesystem::exists(qatPath))
    return Error::failure(dir + ": no qat.json: not a quantization-aware "
                                "checkpoint (train one with finetune "
                                "--recipe)");
  Expected<BertConfig> config = loadCheckpointConfig(dir);
  if (!config)
    return config.error();
  Expected<QatSpec> spec = QatSpec::load(qatPath);
  if (!spec)
    return spec.error();
  LoadedModel loaded{*config, BertForSequenceClassification(*config), "qat",
                     spec->recipe};
  if (Error err = loadCheckpointWeights(dir, *loaded.model))
    return err;
  if (Error err = applyQatSpec(*loaded.model, *spec))
    return Error::failure(qatPath + ": " + err.message());
  loaded.model->eval();
  return loaded;
}

Expected<LoadedModel> loadBundle(const std::string &dir) {
  Expected<BertConfig> config = loadCheckpointConfig(dir);
  if (!config)
    return config.error();
  std::string quantPath = dir + "/quant.json";
  Expected<QuantConfig> quant = QuantConfig::load(quantPath);
  if (!quant)
    return quant.error();
  std::string weightsPath = dir + "/model.safetensors";
  Expected<SafetensorsFile> file = SafetensorsFile::open(weightsPath);
  if (!file)
    return file.error();
  if (Error err = quant->checkTensors(*file, quantPath))
    return err;

  LoadedModel loaded{*config, BertForSequenceClassification(*config), "bundle",
                     quant->recipe};
  torch::nn::Module &model = *loaded.model;
  std::map<std::string, torch::nn::Module *> modules = modulesByName(model);
  QatSpec spec;
  spec.recipe = quant->recipe;
  std::map<std::string, QuantizedMatrix> matrices;
  std::map<std::string, std::optional<float>> inputScales;
  for (const auto &[name, entry] : quant->linears) {
    std::string where = quantPath + ": linears['" + name + "']: ";
    auto it = modules.find(name);
    auto *linear = it == modules.end()
                       ? nullptr
                       : dynamic_cast<QuantLinearImpl *>(it->second);
    if (!linear)
      return Error::failure(where + "no such linear in the model");
    if (entry.outFeatures != linear->options.out_features() ||
        entry.inFeatures != linear->options.in_features())
      return Error::failure(
          where + "is " + std::to_string(entry.outFeatures) + " x " +
          std::to_string(entry.inFeatures) + ", the model needs " +
          std::to_string(linear->options.out_features()) + " x " +
          std::to_string(linear->options.in_features()));
    if (isFloatPrecision(entry.precision))
      continue;
    Expected<QuantizedMatrix> matrix =
        readMatrix(*file, entry, entry.outFeatures, entry.inFeatures, where);
    if (!matrix)
      return matrix.error();
    LinearQuantSpec linearSpec;
    linearSpec.weight = *entry.quantizer;
    linearSpec.granularity =
        matrix->scale.dim() == 1 ? Granularity::PerRow : Granularity::PerTensor;
    // An int8-input linear without input_scale quantizes its inputs
    // dynamically, one scale per row (as the compiler does).
    linearSpec.input = isBinaryQuantizer(*entry.quantizer) ? InputQuant::Sign
                       : *entry.quantizer == Quantizer::AsymmetricIndex
                           ? InputQuant::Float
                       : entry.inputScale ? InputQuant::Int8
                                          : InputQuant::DynamicInt8;
    if (Error err = validateLinearSpec(linearSpec, where))
      return err;
    spec.linears[name] = linearSpec;
    matrices[name] = std::move(*matrix);
    if (entry.inputScale)
      inputScales[name] = float(*entry.inputScale);
  }
  for (const auto &[name, entry] : quant->embeddings) {
    std::string where = quantPath + ": embeddings['" + name + "']: ";
    auto it = modules.find(name);
    auto *embedding = it == modules.end()
                          ? nullptr
                          : dynamic_cast<QuantEmbeddingImpl *>(it->second);
    if (!embedding)
      return Error::failure(where + "no such embedding in the model");
    if (entry.numEmbeddings != embedding->weight.size(0) ||
        entry.embeddingDim != embedding->weight.size(1))
      return Error::failure(
          where + "is " + std::to_string(entry.numEmbeddings) + " x " +
          std::to_string(entry.embeddingDim) + ", the model needs " +
          formatShape(shapeOf(embedding->weight)));
    if (isFloatPrecision(entry.precision))
      continue;
    Expected<QuantizedMatrix> matrix = readMatrix(
        *file, entry, entry.numEmbeddings, entry.embeddingDim, where);
    if (!matrix)
      return matrix.error();
    EmbeddingQuantSpec embeddingSpec{
        *entry.quantizer, matrix->scale.dim() == 1 ? Granularity::PerRow
                                                   : Granularity::PerTensor};
    if (Error err = validateEmbeddingSpec(embeddingSpec, where))
      return err;
    spec.embeddings[name] = embeddingSpec;
    matrices[name] = std::move(*matrix);
  }
  if (Error err = applyQatSpec(model, spec))
    return Error::failure(quantPath + ": " + err.message());

  // Parameters: quantized weights become their dequantized values (the
  // latent weights of a re-import), listed float weights and biases come
  // from the tensors quant.json names, everything else by its own name.
  torch::NoGradGuard noGrad;
  for (auto &item : model.named_parameters()) {
    const std::string &name = item.key();
    size_t dot = name.rfind('.');
    std::string module = name.substr(0, dot), leaf = name.substr(dot + 1);
    const WeightQuant *weightEntry = nullptr;
    std::string bias = name;
    if (auto it = quant->linears.find(module); it != quant->linears.end()) {
      weightEntry = &it->second;
      bias = it->second.bias;
    } else if (auto it = quant->embeddings.find(module);
               it != quant->embeddings.end()) {
      weightEntry = &it->second;
    }
    Error err = Error::success();
    if (weightEntry && leaf == "weight") {
      if (auto it = matrices.find(module); it != matrices.end())
        item.value().copy_(it->second.dequantize());
      else
        err = loadFloat(*file, weightEntry->weight, item.value());
    } else if (weightEntry && leaf == "bias") {
      // quant.json without 'bias': the linear has none.
      if (bias.empty())
        item.value().zero_();
      else
        err = loadFloat(*file, bias, item.value());
    } else {
      err = loadFloat(*file, name, item.value());
    }
    if (err)
      return Error::failure(weightsPath + ": " + err.message());
  }
  for (auto &[name, matrix] : matrices) {
    if (auto *linear = dynamic_cast<QuantLinearImpl *>(modules[name]))
      linear->freeze(std::move(matrix), inputScales[name]);
    else
      dynamic_cast<QuantEmbeddingImpl *>(modules[name])
          ->freeze(std::move(matrix));
  }
  loaded.model->eval();
  return loaded;
}

Expected<LoadedModel> loadModelForEval(const std::string &dir) {
  if (std::filesystem::exists(dir + "/quant.json"))
    return loadBundle(dir);
  if (std::filesystem::exists(dir + "/qat.json"))
    return loadQatCheckpoint(dir);
  Expected<BertConfig> config = loadCheckpointConfig(dir);
  if (!config)
    return config.error();
  LoadedModel loaded{*config, BertForSequenceClassification(*config), "float",
                     "float"};
  if (Error err = loadCheckpointWeights(dir, *loaded.model))
    return err;
  loaded.model->eval();
  return loaded;
}

Error exportBundle(const std::string &checkpointDir,
                   const std::string &bundleDir) {
  Expected<LoadedModel> loaded = loadQatCheckpoint(checkpointDir);
  if (!loaded)
    return loaded.error();
  if (Error err = checkCalibrated(*loaded->model))
    return Error::failure(checkpointDir + ": " + err.message());
  return exportModel(*loaded, checkpointDir, bundleDir);
}

Error exportModel(LoadedModel &loaded, const std::string &sourceDir,
                  const std::string &bundleDir) {
  torch::nn::Module &model = *loaded.model;
  SafetensorsWriter writer;
  QuantConfig quant;
  quant.recipe = loaded.recipe;
  std::set<std::string> written;
  for (const auto &item : model.named_modules()) {
    const std::string &name = item.key();
    if (auto *linear = dynamic_cast<QuantLinearImpl *>(item.value().get())) {
      if (!linear->spec())
        continue;
      LinearQuant entry;
      if (Error err = addQuantizedWeight(writer, name,
                                         linear->deployedWeight().matrix, entry,
                                         /*blockSparse=*/true))
        return err;
      entry.inFeatures = linear->options.in_features();
      entry.outFeatures = linear->options.out_features();
      if (linear->bias.defined()) {
        entry.bias = name + ".bias";
        if (Error err = addF32(writer, entry.bias, linear->bias))
          return err;
      }
      if (linear->spec()->input == InputQuant::Int8)
        entry.inputScale = double(linear->inputScale());
      quant.linears[name] = std::move(entry);
      written.insert({name + ".weight", name + ".bias"});
    } else if (auto *embedding =
                   dynamic_cast<QuantEmbeddingImpl *>(item.value().get())) {
      if (!embedding->spec())
        continue;
      written.insert(name + ".weight");
      EmbeddingQuant entry;
      if (Error err = addQuantizedWeight(writer, name,
                                         embedding->deployedWeight().matrix,
                                         entry, /*blockSparse=*/false))
        return err;
      entry.numEmbeddings = embedding->weight.size(0);
      entry.embeddingDim = embedding->weight.size(1);
      quant.embeddings[name] = std::move(entry);
    }
  }
  for (const auto &item : model.named_parameters())
    if (!written.count(item.key()))
      if (Error err = addF32(writer, item.key(), item.value()))
        return err;

  // Check the exact bytes about to be written before touching the bundle.
  std::string quantPath = bundleDir + "/quant.json";
  if (Error err = quant.validate(quantPath))
    return err;
  std::string bytes = writer.serialize();
  Expected<SafetensorsFile> serialized = SafetensorsFile::parse(bytes);
  if (!serialized)
    return serialized.error();
  if (Error err = quant.checkTensors(*serialized, quantPath))
    return err;

  if (Error err = createDirectories(bundleDir))
    return err;
  if (Error err = loaded.config.save(bundleDir + "/config.json"))
    return err;
  if (Error err = copyVocab(sourceDir, bundleDir))
    return err;
  if (Error err = writeFileAtomically(bundleDir + "/model.safetensors", bytes))
    return err;
  if (Error err = quant.save(quantPath))
    return err;
  return copySensitivity(sourceDir, bundleDir);
}

Expected<LoadedModel> loadDequantized(const std::string &dir) {
  Expected<LoadedModel> loaded = loadModelForEval(dir);
  if (!loaded || loaded->kind == "float")
    return loaded;
  torch::nn::Module &model = *loaded->model;
  {
    torch::NoGradGuard noGrad;
    for (const auto &item : model.named_modules()) {
      if (auto *linear = dynamic_cast<QuantLinearImpl *>(item.value().get())) {
        if (linear->spec())
          linear->weight.copy_(linear->deployedWeight().dequantized());
      } else if (auto *embedding =
                     dynamic_cast<QuantEmbeddingImpl *>(item.value().get())) {
        if (embedding->spec())
          embedding->weight.copy_(embedding->deployedWeight().dequantized());
      }
    }
  }
  QatSpec floatSpec;
  floatSpec.recipe = "float";
  if (Error err = applyQatSpec(model, floatSpec))
    return err;
  return loaded;
}

Error exportDequantized(const std::string &checkpointDir,
                        const std::string &dir) {
  Expected<LoadedModel> loaded = loadDequantized(checkpointDir);
  if (!loaded)
    return loaded.error();
  if (loaded->kind == "float")
    return Error::failure(checkpointDir + ": neither a bundle (quant.json) "
                                          "nor a quantization-aware "
                                          "checkpoint (qat.json)");
  if (Error err = createDirectories(dir))
    return err;
  if (Error err = saveCheckpoint(dir, loaded->config, *loaded->model,
                                 checkpointDir + "/vocab.txt"))
    return err;
  return copySensitivity(checkpointDir, dir);
}

} // namespace quantbert::train
