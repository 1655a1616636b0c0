//===- BundleFuzzer.cpp - Mutated bundles through import and compile ------===//
//
// libFuzzer target (and, without libFuzzer, the replay driver's target):
// the input is a bundle packed into one byte string (pack_bundle.py):
//
//   [u32 n][n bytes config.json] [u32 n][quant.json] [u32 n][sensitivity.json]
//   [the rest: model.safetensors]
//
// little-endian lengths, 0xffffffff for a file the bundle does not have (a
// length past the end is cut to what is left). The files are written to a
// private directory and imported; an imported module is compiled to the
// LLVM dialect with the SensiMix policy, as quant-bert-compile would. The
// oracle is FuzzSupport.h's, plus: a rejected bundle's message names the
// file it is about (config.json, quant.json, sensitivity.json or
// model.safetensors), so the user knows where to look.
//
//===----------------------------------------------------------------------===//

#include "FuzzSupport.h"

#include "quantbert/Import/BundleImporter.h"

#include "mlir/IR/Verifier.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

using namespace mlir;
using namespace quantbert::fuzz;

namespace {

const char *const kFiles[] = {"config.json", "quant.json", "sensitivity.json"};

/// A private directory for this process, removed at exit. The path is
/// never destroyed: the exit handler runs after the destructors of statics
/// initialized before it was registered, and must still read it.
const std::string &workDirectory() {
  static const std::string *directory = [] {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "qb-fuzz-bundle-XXXXXX")
            .string();
    if (!mkdtemp(pattern.data()))
      oracleFailure("cannot create a temporary directory");
    auto *path = new std::string(pattern);
    std::atexit([] { std::filesystem::remove_all(*directory); });
    return path;
  }();
  return *directory;
}

void writeFile(const std::string &path, const uint8_t *data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char *>(data), std::streamsize(size));
  if (!out)
    oracleFailure("cannot write " + path);
}

/// Unpacks the input into the work directory.
void unpack(const uint8_t *data, size_t size) {
  const std::string &dir = workDirectory();
  size_t at = 0;
  for (const char *name : kFiles) {
    std::string path = dir + "/" + name;
    uint32_t length = 0xffffffffu;
    if (size - at >= 4) {
      std::memcpy(&length, data + at, 4);
      at += 4;
    } else {
      at = size;
    }
    if (length == 0xffffffffu) {
      std::filesystem::remove(path);
      continue;
    }
    size_t n = std::min<size_t>(length, size - at);
    writeFile(path, data + at, n);
    at += n;
  }
  writeFile(dir + "/model.safetensors", data + at, size - at);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // The seeds are tiny models of a few hundred KB at most.
  if (size > 1024 * 1024)
    return -1;
  unpack(data, size);
  auto context = makeContext();
  DiagnosticCounter diagnostics(context.get());
  OwningOpRef<ModuleOp> module =
      quantbert::importBundle(context.get(), workDirectory());
  if (!module) {
    if (diagnostics.errors() == 0)
      oracleFailure("import rejected the bundle without an error");
    const std::string &message = diagnostics.firstError();
    bool namesFile = false;
    for (const char *file : {"config.json", "quant.json", "sensitivity.json",
                             "model.safetensors"})
      namesFile |= message.find(file) != std::string::npos;
    if (!namesFile)
      oracleFailure("import error names no file: " + message);
    return 0;
  }
  if (failed(verify(*module)))
    oracleFailure("import produced IR that does not verify: " +
                  diagnostics.firstError());
  runPipeline(*module, "builtin.module(qb-assign-precision{policy=sensimix},"
                       "qb-lower-to-llvm)",
              diagnostics);
  return 0;
}
