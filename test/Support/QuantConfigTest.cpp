//===- QuantConfigTest.cpp - quant.json and sensitivity.json tests --------===//
//
// Round trips of both files, each validation rule's message, and
// QuantConfig::checkTensors against a real safetensors file.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Support/BitPacking.h"
#include "quantbert/Support/QuantConfig.h"
#include "quantbert/Support/SensitivityReport.h"
#include "quantbert/Support/Safetensors.h"
#include "TestSupport.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

using namespace quantbert;
using Json = nlohmann::json;

namespace {

const char *const kQuery = "bert.encoder.layer.0.attention.self.query";

/// A small SensiMix-style quant.json: one entry of every quantizer.
QuantConfig sampleQuantConfig() {
  QuantConfig config;
  config.recipe = "sensimix";

  LinearQuant query;
  query.precision = Precision::I8;
  query.quantizer = Quantizer::AsymmetricIndex;
  query.inFeatures = 4;
  query.outFeatures = 2;
  query.weight = std::string(kQuery) + ".weight";
  query.scale = std::string(kQuery) + ".weight_scale";
  query.zeroPoint = ScalarOrTensor{-128.0, ""};
  query.offset = ScalarOrTensor{std::nullopt, std::string(kQuery) + ".weight_offset"};
  query.bias = std::string(kQuery) + ".bias";
  query.inputScale = 0.0421;
  config.linears[kQuery] = query;

  LinearQuant key;
  key.precision = Precision::I8;
  key.quantizer = Quantizer::SymmetricEma;
  key.inFeatures = 4;
  key.outFeatures = 2;
  key.weight = "key.weight";
  key.scale = "key.scale";
  config.linears["bert.encoder.layer.0.attention.self.key"] = key;

  LinearQuant ffn;
  ffn.precision = Precision::Binary;
  ffn.quantizer = Quantizer::BinaryMeanScale;
  ffn.inFeatures = 70;
  ffn.outFeatures = 2;
  ffn.weight = "ffn.packed";
  ffn.scale = "ffn.scale";
  config.linears["bert.encoder.layer.0.intermediate.dense"] = ffn;

  LinearQuant out;
  out.precision = Precision::Binary;
  out.quantizer = Quantizer::BinarySign;
  out.inFeatures = 64;
  out.outFeatures = 1;
  out.weight = "out.packed";
  config.linears["bert.encoder.layer.0.output.dense"] = out;

  LinearQuant value;
  value.precision = Precision::Ternary;
  value.quantizer = Quantizer::Twn;
  value.inFeatures = 3;
  value.outFeatures = 2;
  value.weight = "value.codes";
  value.scale = "value.alpha";
  config.linears["bert.encoder.layer.0.attention.self.value"] = value;

  LinearQuant classifier;
  classifier.precision = Precision::F32;
  classifier.inFeatures = 4;
  classifier.outFeatures = 2;
  classifier.weight = "classifier.weight";
  classifier.bias = "classifier.bias";
  config.linears["classifier"] = classifier;

  EmbeddingQuant words;
  words.precision = Precision::F16;
  words.numEmbeddings = 5;
  words.embeddingDim = 4;
  words.weight = "bert.embeddings.word_embeddings.weight";
  config.embeddings["bert.embeddings.word_embeddings"] = words;
  return config;
}

/// The tensors sampleQuantConfig() names, with the dtypes and shapes the
/// format requires.
SafetensorsWriter sampleWeights() {
  SafetensorsWriter writer;
  // Integer tensors are zeros, F32 ones ones (scales must be positive).
  std::vector<uint8_t> zeros(256, 0);
  std::vector<float> ones(64, 1.0f);
  auto add = [&](const std::string &name, DType dtype,
                 std::vector<int64_t> shape) {
    size_t bytes = dtypeSize(dtype);
    for (int64_t dim : shape)
      bytes *= static_cast<size_t>(dim);
    const void *data = dtype == DType::F32
                           ? static_cast<const void *>(ones.data())
                           : static_cast<const void *>(zeros.data());
    EXPECT_FALSE(writer.add(name, dtype, shape, data, bytes)) << name;
  };
  std::string query = kQuery;
  add(query + ".weight", DType::I8, {2, 4});
  add(query + ".weight_scale", DType::F32, {2});
  add(query + ".weight_offset", DType::F32, {});
  add(query + ".bias", DType::F32, {2});
  add("key.weight", DType::I8, {2, 4});
  add("key.scale", DType::F32, {});
  add("ffn.packed", DType::I64, {2, 2});
  add("ffn.scale", DType::F32, {2});
  add("out.packed", DType::I64, {1, 1});
  add("value.codes", DType::I8, {2, 3});
  add("value.alpha", DType::F32, {2});
  add("classifier.weight", DType::F32, {2, 4});
  add("classifier.bias", DType::F32, {2});
  add("bert.embeddings.word_embeddings.weight", DType::F16, {5, 4});
  return writer;
}

/// The message of parsing the sample with `edit` applied, which must fail.
template <typename Edit> std::string quantErrorAfter(Edit edit) {
  Json document = Json::parse(sampleQuantConfig().toJson());
  edit(document);
  Expected<QuantConfig> parsed = QuantConfig::fromJson(document.dump());
  EXPECT_FALSE(parsed) << document.dump(2);
  return parsed ? std::string() : parsed.message();
}

TEST(QuantConfigTest, RoundTrips) {
  QuantConfig config = sampleQuantConfig();
  ASSERT_FALSE(config.validate());
  std::string text = config.toJson();
  Expected<QuantConfig> parsed = QuantConfig::fromJson(text);
  ASSERT_TRUE(parsed) << parsed.message();
  EXPECT_EQ(parsed->recipe, "sensimix");
  ASSERT_EQ(parsed->linears.size(), 6u);
  const LinearQuant &query = parsed->linears.at(kQuery);
  EXPECT_EQ(query.precision, Precision::I8);
  EXPECT_EQ(query.quantizer, Quantizer::AsymmetricIndex);
  EXPECT_EQ(query.zeroPoint->value, -128.0);
  EXPECT_EQ(query.offset->tensor, std::string(kQuery) + ".weight_offset");
  EXPECT_EQ(query.inputScale, 0.0421);
  EXPECT_EQ(query.inFeatures, 4);
  EXPECT_EQ(query.outFeatures, 2);
  EXPECT_FALSE(parsed->linears.at("classifier").quantizer);
  EXPECT_EQ(parsed->embeddings.at("bert.embeddings.word_embeddings").precision,
            Precision::F16);
  EXPECT_EQ(parsed->toJson(), text);

  test::ScratchDir dir;
  std::string path = dir.path() + "/quant.json";
  ASSERT_FALSE(config.save(path));
  Expected<QuantConfig> loaded = QuantConfig::load(path);
  ASSERT_TRUE(loaded) << loaded.message();
  EXPECT_EQ(loaded->toJson(), text);
}

TEST(QuantConfigTest, NamesEachInvalidField) {
  std::string at = "quant.json: linears['" + std::string(kQuery) + "']: ";
  EXPECT_EQ(quantErrorAfter([](Json &d) { d["format_version"] = 2; }),
            "quant.json: field 'format_version' must be 1 (the version this "
            "quant-bert reads), got 2");
  EXPECT_EQ(quantErrorAfter([](Json &d) { d.erase("recipe"); }),
            "quant.json: missing field 'recipe'");
  EXPECT_EQ(quantErrorAfter([](Json &d) { d["layers"] = Json::object(); }),
            "quant.json: unknown field 'layers'");
  EXPECT_EQ(quantErrorAfter([](Json &d) {
              d["linears"][kQuery]["zeropoint"] = 0;
            }),
            at + "unknown field 'zeropoint'");
  EXPECT_EQ(quantErrorAfter([](Json &d) {
              d["linears"][kQuery]["precision"] = "int4";
            }),
            at + "field 'precision' must be one of \"f32\", \"f16\", "
                 "\"bf16\", \"i8\", \"ternary\", \"binary\", got \"int4\"");
  EXPECT_EQ(quantErrorAfter([](Json &d) {
              d["linears"][kQuery]["quantizer"] = "twn";
            }),
            at + "quantizer 'twn' produces precision 'ternary', not 'i8'");
  EXPECT_EQ(quantErrorAfter([](Json &d) {
              d["linears"][kQuery].erase("quantizer");
            }),
            at + "precision 'i8' needs field 'quantizer'");
  EXPECT_EQ(quantErrorAfter([](Json &d) {
              d["linears"][kQuery].erase("offset");
            }),
            at + "quantizer 'asymmetric-index' needs field 'offset'");
  EXPECT_EQ(quantErrorAfter([](Json &d) {
              d["linears"][kQuery]["zero_point"] = 200;
            }),
            at + "field 'zero_point' must be an integer in [-128, 127], got "
                 "200.0");
  EXPECT_EQ(quantErrorAfter([](Json &d) {
              d["linears"][kQuery]["zero_point"] = true;
            }),
            at + "field 'zero_point' must be a number or a tensor name, got "
                 "true");
  EXPECT_EQ(quantErrorAfter([](Json &d) {
              d["linears"][kQuery]["in_features"] = 0;
            }),
            at + "field 'in_features' must be a positive integer, got 0");
  EXPECT_EQ(quantErrorAfter([](Json &d) {
              d["linears"][kQuery]["input_scale"] = -1;
            }),
            at + "field 'input_scale' must be a positive number, got -1");
  EXPECT_EQ(quantErrorAfter([](Json &d) {
              d["linears"][kQuery].erase("weight");
            }),
            at + "missing field 'weight'");
  EXPECT_EQ(quantErrorAfter([](Json &d) {
              d["linears"]["classifier"]["quantizer"] = "symmetric-ema";
            }),
            "quant.json: linears['classifier']: precision 'f32' takes no "
            "quantizer, got 'symmetric-ema'");
  EXPECT_EQ(quantErrorAfter([](Json &d) {
              d["linears"]["classifier"]["scale"] = "s";
            }),
            "quant.json: linears['classifier']: precision 'f32' takes no "
            "scale, zero_point or offset");
  EXPECT_EQ(quantErrorAfter([](Json &d) {
              d["linears"]["bert.encoder.layer.0.output.dense"]["scale"] = "s";
            }),
            "quant.json: linears['bert.encoder.layer.0.output.dense']: "
            "quantizer 'binary-sign' takes no scale (use 'binary-mean-scale')");
  EXPECT_EQ(quantErrorAfter([](Json &d) {
              d["linears"]["bert.encoder.layer.0.attention.self.value"].erase(
                  "scale");
            }),
            "quant.json: linears['bert.encoder.layer.0.attention.self.value']: "
            "quantizer 'twn' needs field 'scale'");
  EXPECT_EQ(quantErrorAfter([](Json &d) {
              d["linears"]["bert.encoder.layer.0.attention.self.key"]
               ["offset"] = 0.5;
            }),
            "quant.json: linears['bert.encoder.layer.0.attention.self.key']: "
            "quantizer 'symmetric-ema' takes no field 'offset'");
  EXPECT_EQ(quantErrorAfter([](Json &d) {
              d["linears"]["classifier"]["input_scale"] = 0.5;
            }),
            "quant.json: linears['classifier']: field 'input_scale' applies "
            "to precisions 'i8' and 'ternary' only, not 'f32'");
  EXPECT_EQ(quantErrorAfter([](Json &d) {
              d["embeddings"]["bert.embeddings.word_embeddings"].erase(
                  "embedding_dim");
            }),
            "quant.json: embeddings['bert.embeddings.word_embeddings']: "
            "missing field 'embedding_dim'");
  EXPECT_EQ(quantErrorAfter([](Json &d) {
              d["embeddings"]["bert.embeddings.word_embeddings"]["bias"] = "b";
            }),
            "quant.json: embeddings['bert.embeddings.word_embeddings']: "
            "unknown field 'bias'");
  EXPECT_EQ(QuantConfig::fromJson("[]").message(),
            "quant.json: top level must be a JSON object, got array");
}

TEST(QuantConfigTest, ChecksTensorsAgainstSafetensors) {
  QuantConfig config = sampleQuantConfig();
  Expected<SafetensorsFile> weights =
      SafetensorsFile::parse(sampleWeights().serialize());
  ASSERT_TRUE(weights) << weights.message();
  EXPECT_FALSE(config.checkTensors(*weights));

  std::string at = "quant.json: linears['" + std::string(kQuery) + "']: ";
  QuantConfig wrongShape = config;
  wrongShape.linears[kQuery].inFeatures = 8;
  EXPECT_EQ(wrongShape.checkTensors(*weights).message(),
            at + "tensor '" + kQuery + ".weight' has shape [2, 4], expected "
                 "[2, 8]");
  QuantConfig missing = config;
  missing.linears[kQuery].bias = "nope";
  EXPECT_EQ(missing.checkTensors(*weights).message(),
            at + "missing tensor 'nope'");
  QuantConfig wrongScale = config;
  wrongScale.linears[kQuery].scale = "classifier.weight";
  EXPECT_EQ(wrongScale.checkTensors(*weights).message(),
            at + "tensor 'classifier.weight' has shape [2, 4], expected [] or "
                 "[2]");
  QuantConfig halfWords = config;
  halfWords.embeddings["bert.embeddings.word_embeddings"].precision =
      Precision::F32;
  EXPECT_EQ(halfWords.checkTensors(*weights).message(),
            "quant.json: embeddings['bert.embeddings.word_embeddings']: "
            "tensor 'bert.embeddings.word_embeddings.weight' has dtype F16, "
            "expected F32");
}

TEST(QuantConfigTest, ChecksParameterValues) {
  // A scale that is not finite and positive, a zero point outside int8 and
  // a non-finite offset are the bundle's error, named there (the compiler's
  // qb.dequantize would otherwise reject them without naming the tensor).
  QuantConfig config = sampleQuantConfig();
  std::string at = "quant.json: linears['" + std::string(kQuery) + "']: ";
  auto withTensor = [](const std::string &name, DType dtype,
                       std::vector<int64_t> shape, const void *data,
                       size_t bytes) {
    SafetensorsWriter rebuilt;
    Expected<SafetensorsFile> base =
        SafetensorsFile::parse(sampleWeights().serialize());
    EXPECT_TRUE(base);
    for (const TensorInfo &tensor : base->tensors()) {
      if (tensor.name == name)
        continue;
      ByteView view = base->bytes(tensor);
      EXPECT_FALSE(rebuilt.add(tensor.name, tensor.dtype, tensor.shape,
                               view.data, view.size));
    }
    EXPECT_FALSE(rebuilt.add(name, dtype, shape, data, bytes));
    Expected<SafetensorsFile> file = SafetensorsFile::parse(rebuilt.serialize());
    EXPECT_TRUE(file);
    return std::move(*file);
  };
  float scales[2] = {0.5f, -2.0f};
  SafetensorsFile negative = withTensor(std::string(kQuery) + ".weight_scale",
                                        DType::F32, {2}, scales, 8);
  EXPECT_EQ(config.checkTensors(negative).message(),
            at + "tensor '" + kQuery + ".weight_scale' holds -2 at index 1; "
                 "scales must be finite and positive");
  float offset = std::nanf("");
  SafetensorsFile nanOffset = withTensor(std::string(kQuery) + ".weight_offset",
                                         DType::F32, {}, &offset, 4);
  EXPECT_EQ(config.checkTensors(nanOffset).message(),
            at + "tensor '" + kQuery + ".weight_offset' holds nan at index 0; "
                 "values must be finite");
  int32_t zeroPoints[2] = {-128, 300};
  SafetensorsFile wide = withTensor("zp", DType::I32, {2}, zeroPoints, 8);
  QuantConfig tensorZeroPoint = config;
  tensorZeroPoint.linears[kQuery].zeroPoint = ScalarOrTensor{std::nullopt, "zp"};
  EXPECT_EQ(tensorZeroPoint.checkTensors(wide).message(),
            at + "tensor 'zp' holds 300 at index 1; zero points must be in "
                 "[-128, 127]");
}

TEST(QuantConfigTest, ChecksTernaryCodesAndBitPadding) {
  QuantConfig config = sampleQuantConfig();
  SafetensorsWriter writer = sampleWeights();
  // Rebuild with a bad ternary code and a set padding bit.
  SafetensorsWriter bad;
  Expected<SafetensorsFile> good = SafetensorsFile::parse(writer.serialize());
  ASSERT_TRUE(good);
  for (const TensorInfo &tensor : good->tensors()) {
    ByteView bytes = good->bytes(tensor);
    std::vector<uint8_t> copy(bytes.data, bytes.data + bytes.size);
    if (tensor.name == "value.codes")
      copy[4] = 2;
    if (tensor.name == "ffn.packed")
      copy[8 + 1] = 0x01; // row 0, word 1, bit 8: column 72 > 70
    ASSERT_FALSE(bad.add(tensor.name, tensor.dtype, tensor.shape, copy.data(),
                         copy.size()));
  }
  Expected<SafetensorsFile> weights = SafetensorsFile::parse(bad.serialize());
  ASSERT_TRUE(weights);
  QuantConfig ternaryOnly = config;
  ternaryOnly.linears.erase("bert.encoder.layer.0.intermediate.dense");
  EXPECT_EQ(ternaryOnly.checkTensors(*weights).message(),
            "quant.json: linears['bert.encoder.layer.0.attention.self.value']: "
            "tensor 'value.codes' holds ternary code 2 at index 4; codes must "
            "be -1, 0 or +1");
  QuantConfig binaryOnly = config;
  binaryOnly.linears.erase("bert.encoder.layer.0.attention.self.value");
  EXPECT_EQ(binaryOnly.checkTensors(*weights).message(),
            "quant.json: linears['bert.encoder.layer.0.intermediate.dense']: "
            "tensor 'ffn.packed' row 0 has padding bits set past column 70 "
            "(BitPacking.h pads with zeros)");
}

SensitivityReport sampleReport() {
  SensitivityReport report;
  report.baselineLoss = 0.3125;
  for (int64_t layer = 0; layer < 2; ++layer) {
    ModuleSensitivity attention;
    attention.layer = layer;
    attention.module = BertModule::Attention;
    attention.params = 4 * 768 * 768;
    attention.sensitivity = {{Precision::I8, 0.01},
                             {Precision::Binary, 0.4},
                             {Precision::Ternary, 0.1 / 3}};
    attention.hessianTrace = 12.5;
    ModuleSensitivity ffn = attention;
    ffn.module = BertModule::Ffn;
    ffn.params = 2 * 768 * 3072;
    ffn.sensitivity[Precision::I8] = -0.0001;
    ffn.hessianTrace.reset();
    report.modules.push_back(attention);
    report.modules.push_back(ffn);
  }
  report.parameterCounts = {23837184, 85054464, 592130, 109483778};
  return report;
}

template <typename Edit> std::string reportErrorAfter(Edit edit) {
  Json document = Json::parse(sampleReport().toJson());
  edit(document);
  Expected<SensitivityReport> parsed =
      SensitivityReport::fromJson(document.dump());
  EXPECT_FALSE(parsed) << document.dump(2);
  return parsed ? std::string() : parsed.message();
}

TEST(SensitivityReportTest, RoundTripsExactly) {
  SensitivityReport report = sampleReport();
  std::string text = report.toJson();
  Expected<SensitivityReport> parsed = SensitivityReport::fromJson(text);
  ASSERT_TRUE(parsed) << parsed.message();
  EXPECT_EQ(parsed->baselineLoss, 0.3125);
  ASSERT_EQ(parsed->modules.size(), 4u);
  EXPECT_EQ(parsed->modules[1].module, BertModule::Ffn);
  EXPECT_EQ(parsed->modules[0].sensitivity.at(Precision::Ternary), 0.1 / 3)
      << "doubles round-trip bit-exactly";
  EXPECT_EQ(parsed->modules[0].hessianTrace, 12.5);
  EXPECT_FALSE(parsed->modules[1].hessianTrace);
  EXPECT_EQ(parsed->parameterCounts.total, 109483778);
  EXPECT_EQ(parsed->toJson(), text);

  test::ScratchDir dir;
  std::string path = dir.path() + "/sensitivity.json";
  ASSERT_FALSE(report.save(path));
  Expected<SensitivityReport> loaded = SensitivityReport::load(path);
  ASSERT_TRUE(loaded) << loaded.message();
  EXPECT_EQ(loaded->toJson(), text);
}

TEST(SensitivityReportTest, NamesEachInvalidField) {
  EXPECT_EQ(reportErrorAfter([](Json &d) { d["metric"] = "accuracy_drop"; }),
            "sensitivity.json: field 'metric' must be \"dev_loss_increase\", "
            "got \"accuracy_drop\"");
  EXPECT_EQ(reportErrorAfter([](Json &d) { d.erase("baseline_loss"); }),
            "sensitivity.json: missing field 'baseline_loss'");
  EXPECT_EQ(reportErrorAfter([](Json &d) { d["modules"][1]["layer"] = -1; }),
            "sensitivity.json: modules[1]: field 'layer' must be a "
            "non-negative integer, got -1");
  EXPECT_EQ(reportErrorAfter([](Json &d) { d["modules"][0]["module"] = "mlp"; }),
            "sensitivity.json: modules[0]: field 'module' must be "
            "\"attention\" or \"ffn\", got \"mlp\"");
  EXPECT_EQ(reportErrorAfter([](Json &d) { d["modules"][0]["params"] = 0; }),
            "sensitivity.json: modules[0]: field 'params' must be a positive "
            "integer, got 0");
  EXPECT_EQ(reportErrorAfter([](Json &d) {
              d["modules"][2]["sensitivity"]["int4"] = 0.5;
            }),
            "sensitivity.json: modules[2]: field 'sensitivity' has key "
            "'int4', expected a precision (f32, f16, bf16, i8, ternary, "
            "binary)");
  EXPECT_EQ(reportErrorAfter([](Json &d) {
              d["modules"][2]["sensitivity"]["i8"] = "high";
            }),
            "sensitivity.json: modules[2]: field 'sensitivity.i8' must be a "
            "number, got \"high\"");
  EXPECT_EQ(reportErrorAfter([](Json &d) {
              d["modules"][3]["sensitivity"] = Json::object();
            }),
            "sensitivity.json: modules[3]: field 'sensitivity' must list at "
            "least one precision");
  EXPECT_EQ(reportErrorAfter([](Json &d) { d["modules"][2]["layer"] = 0; }),
            "sensitivity.json: modules[2]: layer 0 module 'attention' is "
            "listed twice");
  EXPECT_EQ(reportErrorAfter([](Json &d) {
              d["parameter_counts"]["total"] = 1;
            }),
            "sensitivity.json: parameter_counts: field 'total' (1) must equal "
            "embeddings + encoder + head (23837184 + 85054464 + 592130)");
  EXPECT_EQ(reportErrorAfter([](Json &d) {
              d["parameter_counts"].erase("head");
            }),
            "sensitivity.json: parameter_counts: missing field 'head'");
  EXPECT_EQ(reportErrorAfter([](Json &d) { d["modules"][0]["trace"] = 1; }),
            "sensitivity.json: modules[0]: unknown field 'trace'");
}

} // namespace
