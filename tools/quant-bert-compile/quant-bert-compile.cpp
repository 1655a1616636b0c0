//===- quant-bert-compile.cpp - Ahead-of-time compiler ---------------------===//
//
// quant-bert-compile BUNDLE_OR_MLIR -o NAME.o --header NAME.h [--name NAME]
//                    [--calibrate FILE [--calibrator NAME] | --dynamic-int8]
//                    [--pipeline PASSES] [--attention-storage f16|bf16|f32]
//                    [--cpu host|znver5|skylake-avx512|x86-64-v3]
//                    [--block-sparse MIN|off]
//
// Imports a checkpoint or bundle directory (or reads an imported .mlir /
// .mlirbc), quantizes and packs weights, fuses attention, lowers to LLVM,
// and emits a native object with the weights embedded plus a C header whose
// NAME_create / NAME_run / NAME_destroy call libquantbert_rt. Prints a
// summary: precision per layer and module, weight bytes by precision, object
// size. A float checkpoint becomes int8 without training by
// post-training quantization: --dynamic-int8 (activation scales per row at
// run time) or --calibrate FILE (static scales calibrated on FILE's
// sentences by `quant-bert-train quantize`, which this runs). An int8
// linear whose weights have at least MIN (default 0.5) of their 16 x 4
// blocks all zero (gradual magnitude pruning makes such weights) runs on the
// runtime's block-sparse kernel and keeps only its nonzero blocks.
//
//===----------------------------------------------------------------------===//

#include "QuantBert/QBOps.h"
#include "quantbert/Conversion/Pipelines.h"
#include "quantbert/Import/BundleImporter.h"
#include "quantbert/Support/BitPacking.h"
#include "quantbert/Support/BlockSparse.h"
#include "quantbert/Target/ObjectEmitter.h"
#include "quantbert/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <map>

using namespace llvm;
using namespace mlir;
namespace qb = quantbert::qb;

static cl::OptionCategory category("quant-bert-compile options");

static cl::opt<std::string> inputPath(cl::Positional, cl::Required,
                                      cl::desc("<bundle directory or .mlir>"),
                                      cl::cat(category));
static cl::opt<std::string> objectPath("o", cl::Required,
                                       cl::desc("Object file to write"),
                                       cl::value_desc("NAME.o"),
                                       cl::cat(category));
static cl::opt<std::string> headerPath("header", cl::Required,
                                       cl::desc("C header to write"),
                                       cl::value_desc("NAME.h"),
                                       cl::cat(category));
static cl::opt<std::string> modelName(
    "name", cl::desc("C identifier prefixing the generated symbols "
                     "(default: the object file's stem)"),
    cl::cat(category));
static cl::opt<std::string> cpu(
    "cpu", cl::init("host"),
    cl::desc("Target CPU: host (default), znver5, skylake-avx512, x86-64-v3, "
             "or any LLVM x86 CPU name"),
    cl::cat(category));
static cl::opt<std::string> pipeline(
    "pipeline",
    cl::desc("Passes to run on the imported module before quantization is "
             "materialized, in quant-bert-opt's syntax, e.g. "
             "'qb-assign-precision{budget=0.15}'"),
    cl::value_desc("pass pipeline"), cl::cat(category));
static cl::opt<std::string> calibrate(
    "calibrate",
    cl::desc("Static post-training int8 quantization of a float checkpoint: "
             "calibration sentences (a TSV with a text column, or one "
             "sentence a line), run through `quant-bert-train quantize`"),
    cl::value_desc("FILE"), cl::cat(category));
static cl::opt<std::string> calibrator(
    "calibrator", cl::init("percentile"),
    cl::desc("--calibrate's activation-range calibrator: max, percentile "
             "(99.99), mse or entropy"),
    cl::cat(category));
static cl::opt<bool> dynamicInt8(
    "dynamic-int8",
    cl::desc("Every encoder linear int8 (weights per channel, activations "
             "per row at run time) and int8 embeddings: dynamic "
             "post-training quantization, no calibration"),
    cl::cat(category));
static cl::opt<std::string> trainTool(
    "train-tool",
    cl::desc("quant-bert-train for --calibrate (default: next to this "
             "program, then the build tree's tools/, then PATH)"),
    cl::value_desc("PATH"), cl::cat(category));
static cl::opt<std::string> attentionStorage(
    "attention-storage", cl::init("f16"),
    cl::desc("Storage type of Q/K/V in fused attention: f16, bf16 or f32"),
    cl::cat(category));

static cl::opt<std::string> blockSparse(
    "block-sparse", cl::init("0.5"),
    cl::desc("Least share, in [0, 1], of all-zero 16x4 weight blocks from "
             "which an int8 linear runs on the block-sparse kernel and keeps "
             "only its nonzero blocks (default 0.5), or 'off'"),
    cl::value_desc("MIN|off"), cl::cat(category));

static int fail(const Twine &message) {
  errs() << "quant-bert-compile: error: " << message << "\n";
  return 1;
}

/// quant-bert-train: --train-tool, else next to this program (an install),
/// else the build tree's tools/quant-bert-train/, else PATH.
static std::string findTrainTool(const char *argv0) {
  if (!trainTool.empty())
    return trainTool;
  std::string self =
      sys::fs::getMainExecutable(argv0, reinterpret_cast<void *>(&fail));
  StringRef directory = sys::path::parent_path(self);
  SmallString<256> sibling(directory);
  sys::path::append(sibling, "quant-bert-train");
  if (sys::fs::can_execute(sibling))
    return sibling.str().str();
  SmallString<256> buildTree(sys::path::parent_path(directory));
  sys::path::append(buildTree, "tools", "quant-bert-train", "quant-bert-train");
  if (sys::fs::can_execute(buildTree))
    return buildTree.str().str();
  if (ErrorOr<std::string> onPath = sys::findProgramByName("quant-bert-train"))
    return *onPath;
  return "";
}

/// Runs `quant-bert-train quantize` on the float checkpoint `model` with
/// --calibrate's sentences; the bundle goes to `bundle`. Its messages go
/// to stderr as they come.
static bool quantizeWithCalibration(const char *argv0, StringRef model,
                                    StringRef bundle) {
  std::string tool = findTrainTool(argv0);
  if (tool.empty()) {
    fail("--calibrate needs quant-bert-train (built with LibTorch), which "
         "is not next to this program nor on PATH; give --train-tool PATH");
    return false;
  }
  SmallVector<StringRef> args = {tool,          "quantize",   "--model",
                                 model,         "--calibration", calibrate,
                                 "--calibrator", calibrator,  "--output",
                                 bundle};
  std::string error;
  int status = sys::ExecuteAndWait(tool, args, /*Env=*/std::nullopt,
                                   /*Redirects=*/{}, /*SecondsToWait=*/0,
                                   /*MemoryLimit=*/0, &error);
  if (status != 0) {
    std::string why = error.empty()
                          ? " (exit status " + std::to_string(status) + ")"
                          : ": " + error;
    fail("--calibrate: '" + tool + " quantize' failed" + why);
    return false;
  }
  return true;
}

static bool isIdentifier(StringRef name) {
  if (name.empty() || !(isAlpha(name[0]) || name[0] == '_'))
    return false;
  return llvm::all_of(name, [](char c) { return isAlnum(c) || c == '_'; });
}

/// Weight bytes of the materialized model by storage precision, each
/// stored tensor once (a weight-shared model's layers use one constant
/// attribute per shared tensor, which the object stores once).
static std::map<std::string, int64_t> weightBytes(ModuleOp module) {
  std::map<std::string, int64_t> bytes;
  llvm::DenseSet<const void *> counted;
  module.walk([&](Operation *op) {
    auto count = [&](mlir::Value value, const std::string &precision,
                     int64_t bitsPerElement) {
      const void *identity = value.getAsOpaquePointer();
      if (auto constant = value.getDefiningOp<mlir::arith::ConstantOp>())
        identity = constant.getValue().getAsOpaquePointer();
      if (!counted.insert(identity).second)
        return;
      auto type = cast<ShapedType>(value.getType());
      bytes[precision] += type.getNumElements() * bitsPerElement / 8;
    };
    if (auto linear = dyn_cast<qb::Int8LinearOp>(op)) {
      if (!linear.getBlockSparse())
        return count(linear.getWeight(), "i8", 8);
      // What the object keeps: the nonzero blocks and their mask.
      if (!counted.insert(linear.getWeight().getAsOpaquePointer()).second)
        return;
      auto type = linear.getWeight().getType();
      quantbert::BlockGrid grid{type.getDimSize(0), type.getDimSize(1),
                                quantbert::kSparseInt8BlockRows,
                                quantbert::kSparseInt8BlockCols};
      std::optional<SmallVector<int8_t>> codes =
          qb::getConstantInt8s(linear.getWeight());
      int64_t stored = grid.blockCount() -
                       quantbert::countZeroBlocks(codes->data(), grid);
      bytes["i8-block-sparse"] += stored * grid.blockSize() + grid.maskBytes();
    }
    else if (auto linear = dyn_cast<qb::BinaryLinearOp>(op)) {
      mlir::DenseIntElementsAttr mask;
      if (!linear.getBlockMask() ||
          !matchPattern(linear.getBlockMask(), mlir::m_Constant(&mask)))
        return count(linear.getWeight(), "binary", 64);
      // What the object keeps: the stored blocks (32 words each) and the
      // per-panel block lists (an 8-byte word index per block, panel starts).
      if (!counted.insert(linear.getWeight().getAsOpaquePointer()).second)
        return;
      int64_t stored = llvm::count(mask.getValues<bool>(), true);
      int64_t panels = cast<ShapedType>(mask.getType()).getDimSize(0);
      bytes["binary-block-sparse"] +=
          quantbert::binaryBlockSparseBytes(stored, panels);
    }
    else if (auto linear = dyn_cast<qb::LinearOp>(op))
      count(linear.getWeight(), "f32", 32);
    else if (auto embedding = dyn_cast<qb::EmbeddingOp>(op)) {
      // A quantized table is qb.dequantize of its codes, which the lowering
      // gathers directly: count the codes.
      for (mlir::Value table : {embedding.getWords(), embedding.getPositions(),
                                embedding.getTokenTypes()}) {
        if (auto dequantize = table.getDefiningOp<qb::DequantizeOp>())
          table = dequantize.getInput();
        mlir::Type element = cast<ShapedType>(table.getType()).getElementType();
        unsigned bits = element.getIntOrFloatBitWidth();
        count(table, element.isInteger(8) ? "i8" : "f" + std::to_string(bits),
              bits);
      }
    }
  });
  return bytes;
}

/// "layer 3: attention i8, ffn binary" lines of the materialized model.
static void printPrecisions(ModuleOp module, raw_ostream &os) {
  std::map<int64_t, std::map<std::string, std::string>> layers;
  module.walk([&](Operation *op) {
    std::optional<qb::LayerPosition> position = qb::getLayerPosition(op);
    if (!position)
      return;
    std::string precision;
    if (isa<qb::Int8LinearOp>(op))
      precision = "i8";
    else if (isa<qb::BinaryLinearOp>(op))
      precision = "binary";
    else if (isa<qb::LinearOp>(op))
      precision = "f32";
    else
      return;
    std::string &slot =
        layers[position->layer][qb::stringifyLayerModule(position->module).str()];
    slot = slot.empty() || slot == precision ? precision : "mixed";
  });
  for (auto &[layer, modules] : layers) {
    os << "  layer " << layer << ":";
    for (auto &[module, precision] : modules)
      os << " " << module << " " << precision;
    os << "\n";
  }
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  quantbert::registerQBTransformsPasses();
  mlir::registerTransformsPasses();
  // --help lists this tool's options, not every LLVM backend flag.
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "quant-bert-compile: BERT models to native objects\n");

  std::string name = modelName;
  if (name.empty())
    name = sys::path::stem(objectPath).str();
  if (!isIdentifier(name))
    return fail("model name '" + name +
                "' is not a C identifier (use --name)");

  // Cheap checks first, so a typo does not cost a whole compilation.
  std::string cpuError;
  if (failed(quantbert::checkTargetCPU(cpu, cpuError)))
    return fail("--cpu: " + cpuError);
  for (const std::string &output : {std::string(objectPath), std::string(headerPath)}) {
    StringRef directory = sys::path::parent_path(output);
    if (!directory.empty() && !sys::fs::is_directory(directory))
      return fail("cannot write '" + output + "': directory '" + directory +
                  "' does not exist");
  }

  if (!calibrate.empty() && dynamicInt8)
    return fail("--calibrate (static int8) and --dynamic-int8 exclude each "
                "other");
  if ((!calibrate.empty() || dynamicInt8) && !sys::fs::is_directory(inputPath))
    return fail(Twine(dynamicInt8 ? "--dynamic-int8" : "--calibrate") +
                " quantizes a float checkpoint directory; '" + inputPath +
                "' is not a directory");
  if (!calibrate.empty() && !sys::fs::exists(calibrate))
    return fail("--calibrate: '" + calibrate + "' does not exist");
  double minZeroBlocks = -1.0; // off
  if (blockSparse != "off" &&
      (StringRef(blockSparse).getAsDouble(minZeroBlocks) ||
       !(minZeroBlocks >= 0.0 && minZeroBlocks <= 1.0)))
    return fail("--block-sparse: '" + blockSparse +
                "' is not a number in [0, 1] or 'off'");

  // --calibrate: the float checkpoint is quantized into a bundle in a
  // temporary directory, which is compiled and then removed.
  std::string modelPath = inputPath;
  SmallString<128> calibrated;
  struct RemoveOnExit {
    SmallString<128> &path;
    ~RemoveOnExit() {
      if (!path.empty())
        sys::fs::remove_directories(path);
    }
  } removeCalibrated{calibrated};
  if (!calibrate.empty()) {
    if (std::error_code ec =
            sys::fs::createUniqueDirectory("quant-bert-calibrate", calibrated))
      return fail("cannot create a temporary directory: " + ec.message());
    SmallString<128> bundle(calibrated);
    sys::path::append(bundle, "bundle");
    if (!quantizeWithCalibration(argv[0], inputPath, bundle))
      return 1;
    modelPath = bundle.str().str();
  }

  DialectRegistry registry;
  quantbert::registerLoweringDialects(registry);
  MLIRContext context(registry);
  // Diagnostics name the op by location; printing the op too would print
  // the whole model for an error on the module.
  context.printOpOnDiagnostic(false);
  SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler handler(sourceMgr, &context);

  OwningOpRef<ModuleOp> module;
  if (sys::fs::is_directory(modelPath))
    module = quantbert::importBundle(&context, modelPath);
  else if (sys::fs::exists(inputPath))
    module = parseSourceFile<ModuleOp>(inputPath, sourceMgr, &context);
  else
    return fail("'" + inputPath + "' does not exist");
  if (!module)
    return 1;

  // The dialect verified qb.model's form when the module was built or
  // parsed (QBDialect::verifyOperationAttribute).
  auto modelAttr =
      (*module)->getAttrOfType<quantbert::qb::ModelAttr>(
          quantbert::qb::kModelAttrName);
  auto forward = module->lookupSymbol<func::FuncOp>("forward");
  if (!modelAttr || !forward)
    return fail("'" + inputPath +
                "' is not an imported model (no qb.model attribute or no "
                "@forward function; import it with quant-bert-translate)");
  quantbert::ModelInfo info;
  info.name = name;
  info.forward = name + "_forward";
  info.numLabels = modelAttr.getNumLabels();
  info.vocabSize = modelAttr.getVocabSize();
  info.typeVocabSize = modelAttr.getTypeVocabSize();
  info.maxPositions = modelAttr.getMaxPositions();
  // Label names (absent: the header says LABEL_0, ...).
  if (ArrayAttr labels = modelAttr.getLabels())
    for (StringAttr label : labels.getAsRange<StringAttr>())
      info.labels.push_back(label.str());
  if (failed(SymbolTable::replaceAllSymbolUses(
          forward, StringAttr::get(&context, info.forward), *module)))
    return fail("cannot rename @forward");
  forward.setName(info.forward);
  forward->setAttr("llvm.emit_c_interface", UnitAttr::get(&context));

  // The user's passes (precision assignment, ...), then materialize
  // quantization and fuse attention, then read the summary off the qb ops
  // before they are lowered.
  PassManager prepare(&context);
  if (dynamicInt8) {
    quantbert::AssignPrecisionOptions int8;
    int8.policy = "int8";
    prepare.addPass(quantbert::createAssignPrecision(int8));
  }
  if (!pipeline.empty()) {
    std::string errors;
    raw_string_ostream errorStream(errors);
    if (failed(parsePassPipeline(pipeline, prepare, errorStream)))
      return fail("invalid --pipeline '" + pipeline + "': " + errors);
  }
  prepare.addPass(quantbert::createMaterializeQuant());
  quantbert::FuseAttentionOptions fuse;
  fuse.storageType = attentionStorage;
  prepare.addPass(quantbert::createFuseAttention(fuse));
  prepare.addPass(createCanonicalizerPass());
  if (minZeroBlocks >= 0.0) {
    quantbert::MarkBlockSparseOptions sparse;
    sparse.minZeroBlocks = minZeroBlocks;
    prepare.addPass(quantbert::createMarkBlockSparse(sparse));
  }
  if (failed(prepare.run(*module)))
    return fail("the pass pipeline failed");
  int64_t int8Linears = 0, sparseLinears = 0;
  module->walk([&](qb::Int8LinearOp op) {
    ++int8Linears;
    sparseLinears += op.getBlockSparse().has_value();
  });
  std::map<std::string, int64_t> bytes = weightBytes(*module);
  std::string precisions;
  raw_string_ostream precisionText(precisions);
  printPrecisions(*module, precisionText);

  PassManager lower(&context);
  quantbert::buildQBLowerToLLVMPipeline(lower);
  if (failed(lower.run(*module)))
    return fail("lowering to LLVM failed");
  // The runtime plans the lowered forward function takes (int8 linears
  // that read the same input were merged into one).
  if (auto plans = module->lookupSymbol(info.forward)
                       ->getAttrOfType<IntegerAttr>("qb.int8_plans"))
    info.numPlans = plans.getInt();
  if (failed(quantbert::addModelDescriptor(*module, info)))
    return 1;
  // qb.* annotations (argument names, plan counts) have no LLVM meaning.
  module->walk([](LLVM::LLVMFuncOp function) {
    for (unsigned i = 0, e = function.getNumArguments(); i < e; ++i)
      function.removeArgAttr(i, "qb.name");
    function->removeAttr("qb.int8_plans");
  });
  std::string error;
  if (failed(quantbert::emitObjectFile(*module, cpu, objectPath, error)))
    return fail(error);

  std::error_code ec;
  raw_fd_ostream header(headerPath, ec);
  if (ec)
    return fail("cannot write '" + headerPath + "': " + ec.message());
  header << quantbert::emitHeader(info);

  uint64_t objectSize = 0;
  sys::fs::file_size(objectPath, objectSize);
  outs() << "quant-bert-compile: " << name << " (" << info.numLabels
         << " labels, max sequence " << info.maxPositions << ", " << int8Linears
         << " int8 linears";
  if (sparseLinears)
    outs() << " (" << sparseLinears << " block-sparse)";
  outs() << " in " << info.numPlans << " runtime matmuls)\n"
         << precisions << "  weight bytes:";
  for (auto &[precision, count] : bytes)
    outs() << " " << precision << " " << count;
  outs() << "\n  object " << objectPath << ": " << objectSize << " bytes\n";
  return 0;
}
