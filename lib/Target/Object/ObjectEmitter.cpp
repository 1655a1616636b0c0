//===- ObjectEmitter.cpp - LLVM-dialect models to object files ------------===//
//
// The last steps of quant-bert-compile: adds the model descriptor the
// runtime's qbrt_model_* functions read (a constant struct of sizes and
// function pointers), translates the LLVM-dialect module to LLVM IR,
// optimises it for the target CPU and writes an ELF object, and writes the
// C header whose NAME_create/run/destroy call into the runtime.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Target/ObjectEmitter.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;

namespace quantbert {

LogicalResult addModelDescriptor(ModuleOp module, const ModelInfo &info) {
  MLIRContext *context = module.getContext();
  OpBuilder builder = OpBuilder::atBlockEnd(module.getBody());
  Location loc = module.getLoc();
  auto ptr = LLVM::LLVMPointerType::get(context);
  Type i32 = builder.getI32Type(), i64 = builder.getI64Type();

  // The model's name as a NUL-terminated constant.
  std::string nameText = info.name;
  nameText.push_back('\0');
  auto nameType = LLVM::LLVMArrayType::get(builder.getI8Type(), nameText.size());
  builder.create<LLVM::GlobalOp>(loc, nameType, /*isConstant=*/true,
                                 LLVM::Linkage::Private, info.name + "_name",
                                 builder.getStringAttr(nameText));

  // Mirrors qbrt_model_descriptor in quantbert/runtime.h.
  SmallVector<Type> fields = {i32, ptr, i64, i64, i64, i64, i64, ptr, ptr, ptr};
  auto structType = LLVM::LLVMStructType::getLiteral(context, fields);
  auto global = builder.create<LLVM::GlobalOp>(
      loc, structType, /*isConstant=*/true, LLVM::Linkage::External,
      info.name + "_descriptor", Attribute());
  Block *body = builder.createBlock(&global.getInitializerRegion());
  builder.setInsertionPointToStart(body);
  Value value = builder.create<LLVM::UndefOp>(loc, structType);
  int64_t position = 0;
  auto insert = [&](Value field) {
    value = builder.create<LLVM::InsertValueOp>(loc, value, field, position++);
  };
  auto integer = [&](Type type, int64_t number) {
    return builder.create<LLVM::ConstantOp>(loc, type, number).getResult();
  };
  auto address = [&](const std::string &symbol) -> FailureOr<Value> {
    Operation *op = module.lookupSymbol(symbol);
    if (!op)
      return module.emitError() << "quant-bert-compile: the lowered module has "
                                   "no function '"
                                << symbol << "'";
    if (auto function = dyn_cast<LLVM::LLVMFuncOp>(op))
      return builder.create<LLVM::AddressOfOp>(loc, function).getResult();
    return module.emitError() << "quant-bert-compile: '" << symbol
                              << "' is not an LLVM function";
  };
  insert(integer(i32, kModelAbiVersion));
  insert(builder.create<LLVM::AddressOfOp>(loc, ptr, info.name + "_name"));
  insert(integer(i64, info.numLabels));
  insert(integer(i64, info.vocabSize));
  insert(integer(i64, info.typeVocabSize));
  insert(integer(i64, info.maxPositions));
  insert(integer(i64, info.numPlans));
  FailureOr<Value> forward = address("_mlir_ciface_" + info.forward);
  if (failed(forward))
    return failure();
  insert(*forward);
  if (info.numPlans > 0) {
    FailureOr<Value> prepare = address(info.forward + "_int8_prepare");
    FailureOr<Value> destroy = address(info.forward + "_int8_destroy");
    if (failed(prepare) || failed(destroy))
      return failure();
    insert(*prepare);
    insert(*destroy);
  } else {
    Value null = builder.create<LLVM::ZeroOp>(loc, ptr);
    insert(null);
    insert(null);
  }
  builder.create<LLVM::ReturnOp>(loc, value);
  return success();
}

static void initializeNativeTarget() {
  static bool initialized = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)initialized;
}

LogicalResult checkTargetCPU(const std::string &cpu, std::string &error) {
  if (cpu == "host")
    return success();
  initializeNativeTarget();
  std::string triple = llvm::sys::getDefaultTargetTriple();
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return failure();
  std::unique_ptr<llvm::MCSubtargetInfo> info(
      target->createMCSubtargetInfo(triple, "", ""));
  if (info && info->isCPUStringValid(cpu))
    return success();
  error = "unknown CPU '" + cpu + "' for " + triple +
          " (use host, or an LLVM CPU name such as znver5, skylake-avx512 or "
          "x86-64-v3)";
  return failure();
}

LogicalResult emitObjectFile(ModuleOp module, const std::string &cpu,
                             const std::string &path, std::string &error) {
  initializeNativeTarget();
  if (failed(checkTargetCPU(cpu, error)))
    return failure();
  registerBuiltinDialectTranslation(*module.getContext());
  registerLLVMDialectTranslation(*module.getContext());

  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext, "quant-bert");
  if (!llvmModule) {
    error = "cannot translate the lowered module to LLVM IR";
    return failure();
  }
  std::string triple = llvm::sys::getDefaultTargetTriple();
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return failure();
  std::string cpuName = cpu == "host" ? llvm::sys::getHostCPUName().str() : cpu;
  std::string features;
  if (cpu == "host") {
    llvm::StringMap<bool> hostFeatures = llvm::sys::getHostCPUFeatures();
    for (auto &feature : hostFeatures)
      features += (feature.second ? "+" : "-") + feature.first().str() + ",";
  }
  llvm::TargetOptions options;
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, cpuName, features, options, llvm::Reloc::PIC_, std::nullopt,
      llvm::CodeGenOptLevel::Aggressive));
  if (!machine) {
    error = "cannot create a target machine for CPU '" + cpuName + "'";
    return failure();
  }
  llvmModule->setDataLayout(machine->createDataLayout());
  llvmModule->setTargetTriple(triple);

  auto optimize = makeOptimizingTransformer(/*optLevel=*/3, /*sizeLevel=*/0,
                                            machine.get());
  if (llvm::Error err = optimize(llvmModule.get())) {
    error = llvm::toString(std::move(err));
    return failure();
  }

  std::error_code ec;
  llvm::raw_fd_ostream out(path, ec, llvm::sys::fs::OF_None);
  if (ec) {
    error = "cannot write '" + path + "': " + ec.message();
    return failure();
  }
  llvm::legacy::PassManager codegen;
  if (machine->addPassesToEmitFile(codegen, out, nullptr,
                                   llvm::CodeGenFileType::ObjectFile)) {
    error = "the target cannot emit object files";
    return failure();
  }
  codegen.run(*llvmModule);
  out.flush();
  return success();
}

std::string cStringLiteral(const std::string &text) {
  std::string literal = "\"";
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '\\' || c == '"' || c == '?') {
      // \? keeps "??=" and friends from being read as trigraphs.
      literal += '\\';
      literal += c;
    } else if (byte >= 0x20 && byte < 0x7f) {
      literal += c;
    } else {
      // Octal escapes end after 3 digits, so a following digit stays itself.
      literal += '\\';
      literal += static_cast<char>('0' + (byte >> 6));
      literal += static_cast<char>('0' + ((byte >> 3) & 7));
      literal += static_cast<char>('0' + (byte & 7));
    }
  }
  return literal + "\"";
}

std::string emitHeader(const ModelInfo &info) {
  const std::string &n = info.name;
  std::string guard;
  for (char c : n)
    guard.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  guard += "_H";
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "/* " << n << ".h: generated by quant-bert-compile; do not edit.\n"
     << " *\n"
     << " * A BERT sequence classifier compiled ahead of time into " << n
     << ".o. Link\n"
     << " * that object and libquantbert_rt (CMake: QuantBert::runtime;\n"
     << " * pkg-config: quantbert_rt).\n"
     << " *\n"
     << " *   qbrt_context *ctx;  qbrt_context_create(0, &ctx);\n"
     << " *   " << n << "_model *m;  " << n << "_create(ctx, &m);\n"
     << " *   " << n << "_run(m, ids, type_ids, mask, batch, seq_len, logits);\n"
     << " *   " << n << "_destroy(m);  qbrt_context_destroy(ctx);\n"
     << " *\n"
     << " * Inputs are row-major [batch, seq_len] int32: token ids in [0, "
     << n << "_VOCAB_SIZE),\n"
     << " * token type ids in [0, " << n
     << "_TYPE_VOCAB_SIZE), attention mask 0 or 1;\n"
     << " * 1 <= seq_len <= " << n << "_MAX_SEQ_LEN. logits is [batch, " << n
     << "_NUM_LABELS] float;\n"
     << " * " << n << "_LABELS[i] names class i.\n"
     << " * Every function checks its arguments and returns a status; the\n"
     << " * message is qbrt_last_error(ctx). A model may run on several threads\n"
     << " * at once. */\n"
     << "#ifndef " << guard << "\n#define " << guard << "\n\n"
     << "#include <quantbert/runtime.h>\n\n"
     << "#include <stdint.h>\n\n"
     << "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
     << "enum {\n"
     << "  " << n << "_NUM_LABELS = " << info.numLabels << ",\n"
     << "  " << n << "_VOCAB_SIZE = " << info.vocabSize << ",\n"
     << "  " << n << "_TYPE_VOCAB_SIZE = " << info.typeVocabSize << ",\n"
     << "  " << n << "_MAX_SEQ_LEN = " << info.maxPositions << "\n};\n\n"
     << "/* Class names: config.json's id2label, else LABEL_i. */\n"
     << "static const char *const " << n << "_LABELS[" << n
     << "_NUM_LABELS] = {\n";
  for (int64_t i = 0; i < info.numLabels; ++i)
    os << "    "
       << cStringLiteral(i < static_cast<int64_t>(info.labels.size())
                             ? info.labels[i]
                             : "LABEL_" + std::to_string(i))
       << ",\n";
  os << "};\n\n"
     << "extern const qbrt_model_descriptor " << n << "_descriptor;\n\n"
     << "typedef qbrt_model " << n << "_model;\n\n"
     << "static inline qb_status " << n << "_create(qbrt_context *ctx, " << n
     << "_model **out) {\n"
     << "  return qbrt_model_create(ctx, &" << n << "_descriptor, out);\n}\n\n"
     << "static inline qb_status " << n << "_run(" << n
     << "_model *m, const int32_t *input_ids,\n"
     << "    const int32_t *token_type_ids, const int32_t *attention_mask,\n"
     << "    int64_t batch, int64_t seq_len, float *logits) {\n"
     << "  return qbrt_model_run(m, input_ids, token_type_ids, attention_mask, "
        "batch,\n                        seq_len, logits);\n}\n\n"
     << "static inline void " << n << "_destroy(" << n
     << "_model *m) { qbrt_model_destroy(m); }\n\n"
     << "#ifdef __cplusplus\n}\n#endif\n\n#endif /* " << guard << " */\n";
  return text;
}

} // namespace quantbert
