//===- SafetensorsFuzzer.cpp - Fuzz driver for the safetensors reader -----===//
//
// qb-fuzz-safetensors feeds SafetensorsFile::parse mutants of valid files
// (bit flips, byte edits, inserts, deletes, truncation, header-length edits,
// and edits of the header JSON's fields) plus purely random bytes. Every
// input must either be rejected with a message or be accepted and satisfy the
// reader's invariants: tensors tile the data buffer, every accessor stays in
// bounds, and writing the parsed file back and re-reading it gives the same
// tensors. Built with -fsanitize=address,undefined (QB_ENABLE_SANITIZERS),
// any out-of-bounds read or UB aborts the run.
//
//   qb-fuzz-safetensors --iterations 1000000 --seed 1
//   qb-fuzz-safetensors --input crash.safetensors     (replay one file)
//
// Built with -DQB_LIBFUZZER and -fsanitize=fuzzer (clang), the same oracle
// is a libFuzzer target and this file's main() is left out.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Support/FileIO.h"
#include "quantbert/Support/Safetensors.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <random>
#include <string>
#include <vector>

using namespace quantbert;
using Json = nlohmann::json;

namespace {

[[noreturn]] void oracleFailure(const std::string &what,
                                const std::string &input) {
  std::fprintf(stderr, "qb-fuzz-safetensors: invariant broken: %s\n",
               what.c_str());
  const char *artifact = "qb-fuzz-safetensors-failure.safetensors";
  if (!writeFileAtomically(artifact, input))
    std::fprintf(stderr, "qb-fuzz-safetensors: input saved to %s\n", artifact);
  std::abort();
}

/// The reader's rejection reasons, by a phrase of their message; the run
/// reports how often each was hit, showing every rule is exercised.
constexpr const char *kRejectionKinds[] = {
    "file is truncated",
    "exceeds the limit",
    "runs past the end of the file",
    "not valid JSON",
    "not a JSON object",
    "duplicate key",
    "nests deeper",
    "'__metadata__'",
    "entry must be a JSON object",
    "missing field",
    "field 'dtype' must be a string",
    "unknown dtype",
    "field 'shape' must be an array",
    "is negative",
    "must be a non-negative integer",
    "is too large",
    "overflows",
    "must be [begin, end]",
    "begin <= end",
    "run past the end of the data buffer",
    "shape/size mismatch",
    "overlapping",
    "gap in the data buffer",
};
constexpr size_t kNumRejectionKinds = std::size(kRejectionKinds);
uint64_t rejectionCounts[kNumRejectionKinds + 1];

void countRejection(const std::string &message) {
  for (size_t i = 0; i < kNumRejectionKinds; ++i)
    if (message.find(kRejectionKinds[i]) != std::string::npos) {
      ++rejectionCounts[i];
      return;
    }
  ++rejectionCounts[kNumRejectionKinds];
}

/// Parses `input`; if accepted, checks the reader's invariants.
/// Returns whether the input was accepted.
bool checkInput(const std::string &input) {
  Expected<SafetensorsFile> file = SafetensorsFile::parse(input);
  if (!file) {
    if (file.message().empty())
      oracleFailure("rejected without a message", input);
    countRejection(file.message());
    return false;
  }

  uint64_t covered = 0;
  SafetensorsWriter rewriter;
  for (const TensorInfo &tensor : file->tensors()) {
    if (tensor.begin != covered)
      oracleFailure("tensors do not tile the data buffer", input);
    covered = tensor.end;
    if (tensor.numElements() * dtypeSize(tensor.dtype) != tensor.byteSize())
      oracleFailure("shape/size mismatch accepted for " + tensor.name, input);
    if (file->find(tensor.name) != &tensor)
      oracleFailure("find() misses " + tensor.name, input);
    if (!file->requireTensor(tensor.name, tensor.dtype, tensor.shape))
      oracleFailure("requireTensor() rejects " + tensor.name, input);
    ByteView view = file->bytes(tensor);
    // Touch every byte so the sanitizers see any out-of-bounds view.
    uint8_t checksum = 0;
    for (size_t i = 0; i < view.size; ++i)
      checksum ^= view.data[i];
    (void)checksum;
    bool isFloat = tensor.dtype == DType::F32 || tensor.dtype == DType::F16 ||
                   tensor.dtype == DType::BF16;
    Expected<std::vector<float>> values = file->readF32(tensor.name);
    if (bool(values) != isFloat ||
        (values && values->size() != tensor.numElements()))
      oracleFailure("readF32() disagrees with the dtype of " + tensor.name,
                    input);
    if (Error err = rewriter.add(tensor.name, tensor.dtype, tensor.shape,
                                 view.data, view.size))
      oracleFailure("writer rejects an accepted tensor: " + err.message(),
                    input);
  }
  if (covered != file->dataSize())
    oracleFailure("data buffer not fully covered", input);
  for (const auto &[key, value] : file->metadata())
    if (Error err = rewriter.setMetadata(key, value))
      oracleFailure("writer rejects accepted metadata: " + err.message(),
                    input);

  Expected<SafetensorsFile> reread =
      SafetensorsFile::parse(rewriter.serialize());
  if (!reread)
    oracleFailure("rewritten file rejected: " + reread.message(), input);
  if (reread->tensors().size() != file->tensors().size() ||
      reread->metadata() != file->metadata())
    oracleFailure("rewritten file differs", input);
  for (const TensorInfo &tensor : reread->tensors()) {
    const TensorInfo *original = file->find(tensor.name);
    ByteView a = reread->bytes(tensor);
    if (!original || original->dtype != tensor.dtype ||
        original->shape != tensor.shape)
      oracleFailure("rewritten tensor differs: " + tensor.name, input);
    ByteView b = file->bytes(*original);
    if (a.size != b.size || (a.size && std::memcmp(a.data, b.data, a.size)))
      oracleFailure("rewritten bytes differ: " + tensor.name, input);
  }
  return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  checkInput(std::string(reinterpret_cast<const char *>(data), size));
  return 0;
}

#ifndef QB_LIBFUZZER
namespace {

/// Valid files the mutations start from.
std::vector<std::string> buildSeeds() {
  std::vector<std::string> seeds;
  seeds.push_back(SafetensorsWriter().serialize());

  SafetensorsWriter single;
  float weight[6] = {1, -2, 3.5f, 0, -0.0f, 1e-3f};
  (void)single.add("bert.encoder.layer.0.attention.self.query.weight",
                   DType::F32, {2, 3}, weight, sizeof(weight));
  seeds.push_back(single.serialize());

  SafetensorsWriter mixed;
  uint8_t bytes[64];
  for (int i = 0; i < 64; ++i)
    bytes[i] = static_cast<uint8_t>(i * 37);
  (void)mixed.add("f16", DType::F16, {2, 2}, bytes, 8);
  (void)mixed.add("bf16", DType::BF16, {4}, bytes, 8);
  (void)mixed.add("f64", DType::F64, {1}, bytes, 8);
  (void)mixed.add("i64", DType::I64, {}, bytes, 8);
  (void)mixed.add("i32", DType::I32, {1, 1, 2}, bytes, 8);
  (void)mixed.add("i16", DType::I16, {3}, bytes, 6);
  (void)mixed.add("i8", DType::I8, {5}, bytes, 5);
  (void)mixed.add("u8", DType::U8, {0}, bytes, 0);
  (void)mixed.add("mask", DType::Bool, {2}, "\x01\x00", 2);
  (void)mixed.setMetadata("format", "pt");
  (void)mixed.setMetadata("producer", "quant-bert");
  seeds.push_back(mixed.serialize());

  // Hand-written, unpadded, entries out of offset order: what other writers
  // may legitimately produce.
  std::string header =
      R"({"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]},)"
      R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
      R"("__metadata__":{"k":"v"}})";
  uint64_t size = header.size();
  seeds.push_back(std::string(reinterpret_cast<const char *>(&size), 8) +
                  header + "abcdef");
  return seeds;
}

class Mutator {
public:
  explicit Mutator(uint64_t seed) : rng_(seed) {}

  uint64_t below(uint64_t n) { return n ? rng_() % n : 0; }
  bool oneIn(uint64_t n) { return below(n) == 0; }

  std::string randomBytes(size_t maxLength) {
    std::string bytes(below(maxLength + 1), '\0');
    for (char &byte : bytes)
      byte = static_cast<char>(rng_());
    return bytes;
  }

  /// A number that tends to hit edge cases.
  uint64_t interestingNumber(uint64_t near) {
    switch (below(8)) {
    case 0:
      return 0;
    case 1:
      return near + below(16);
    case 2:
      return near - below(16);
    case 3:
      return uint64_t{1} << below(64);
    case 4:
      return ~uint64_t{0} - below(4);
    case 5:
      return static_cast<uint64_t>(INT64_MAX) + below(3);
    default:
      return rng_();
    }
  }

  Json interestingJson(uint64_t near) {
    switch (below(10)) {
    case 0:
      return -static_cast<int64_t>(below(1000));
    case 1:
      return 1.5;
    case 2:
      return "7";
    case 3:
      return nullptr;
    case 4:
      return Json::array();
    case 5:
      return Json::object();
    default:
      return interestingNumber(near);
    }
  }

  /// Structure-aware edits half the time, so most inputs reach the checks
  /// past the JSON parser; byte-level edits otherwise.
  void mutate(std::string &input, const std::vector<std::string> &pool) {
    if (oneIn(2)) {
      for (uint64_t n = 1 + below(2); n > 0; --n)
        editHeaderJson(input);
      return;
    }
    for (uint64_t n = 1 + below(3); n > 0; --n)
      mutateBytes(input, pool);
  }

private:
  void mutateBytes(std::string &input, const std::vector<std::string> &pool) {
    switch (below(9)) {
    case 0: // flip a bit
      if (!input.empty())
        input[below(input.size())] ^= static_cast<char>(1u << below(8));
      break;
    case 1: { // set a byte, biased towards JSON syntax
      static const char kSyntax[] = "{}[]\":,-0123456789eE. \\";
      if (!input.empty())
        input[below(input.size())] =
            oneIn(2) ? kSyntax[below(sizeof(kSyntax) - 1)]
                     : static_cast<char>(rng_());
      break;
    }
    case 2: // insert bytes
      input.insert(below(input.size() + 1), randomBytes(8));
      break;
    case 3: // delete a range
      if (!input.empty()) {
        size_t at = below(input.size());
        input.erase(at, 1 + below(16));
      }
      break;
    case 4: // truncate
      input.resize(below(input.size() + 1));
      break;
    case 5: // append
      input += randomBytes(32);
      break;
    case 6: { // edit the header length
      if (input.size() < 8)
        input.resize(8, '\0');
      uint64_t length;
      std::memcpy(&length, input.data(), 8);
      length = interestingNumber(length);
      std::memcpy(input.data(), &length, 8);
      break;
    }
    case 7: // splice in another input's tail
      if (!pool.empty()) {
        const std::string &other = pool[below(pool.size())];
        input = input.substr(0, below(input.size() + 1)) +
                other.substr(below(other.size() + 1));
      }
      break;
    default:
      editHeaderJson(input);
      break;
    }
  }

  /// Parses the header and edits one field of one entry, then rebuilds the
  /// file with a consistent length prefix, so the mutation reaches the
  /// semantic checks instead of dying in the JSON parser.
  void editHeaderJson(std::string &input) {
    if (input.size() < 8)
      return;
    uint64_t length;
    std::memcpy(&length, input.data(), 8);
    if (length > input.size() - 8)
      return;
    Json header = Json::parse(input.begin() + 8, input.begin() + 8 + length,
                              nullptr, /*allow_exceptions=*/false);
    if (!header.is_object())
      return;
    if (header.empty())
      header["new"] = {{"dtype", "U8"},
                       {"shape", {below(4)}},
                       {"data_offsets", {0, below(4)}}};
    auto entry = header.begin();
    std::advance(entry, below(header.size()));
    Json &value = entry.value();
    static const char *const kFields[] = {"dtype", "shape", "data_offsets"};
    const char *field = kFields[below(3)];
    switch (below(9)) {
    case 0: {
      static const char *const kDTypes[] = {"F32", "F16", "BF16", "F64",
                                            "I64", "I32", "I16",  "I8",
                                            "U8",  "BOOL", "U64", "F8_E4M3"};
      if (value.is_object())
        value["dtype"] = kDTypes[below(12)];
      break;
    }
    case 1:
    case 2: // change one number of shape or data_offsets
      if (value.is_object() && value.contains(field) &&
          value[field].is_array() && !value[field].empty()) {
        Json &item = value[field][below(value[field].size())];
        uint64_t near = item.is_number_unsigned() ? item.get<uint64_t>() : 0;
        item = oneIn(3) ? interestingJson(near) : Json(interestingNumber(near));
      }
      break;
    case 3: // grow or shrink an array
      if (value.is_object() && value.contains(field) && value[field].is_array()) {
        if (oneIn(2) && !value[field].empty())
          value[field].erase(value[field].size() - 1);
        else
          value[field].push_back(below(8));
      }
      break;
    case 4: // drop a field
      if (value.is_object())
        value.erase(field);
      break;
    case 5: // replace a field or the entry with a value of another type
      if (value.is_object() && oneIn(2))
        value[field] = interestingJson(0);
      else
        value = interestingJson(0);
      break;
    case 6: // duplicate an entry under a new name (an overlap)
      header["copy" + std::to_string(below(4))] = value;
      break;
    case 7: { // nest a value deeper than any header needs
      Json nested = Json::array();
      for (uint64_t depth = below(24); depth > 0; --depth)
        nested = Json::array({std::move(nested)});
      value = std::move(nested);
      break;
    }
    default: // metadata of the wrong shape
      header["__metadata__"] =
          oneIn(2) ? Json{{"k", interestingJson(0)}} : interestingJson(0);
      break;
    }
    std::string text = header.dump(-1, ' ', false,
                                   Json::error_handler_t::replace);
    text.append(below(9), ' ');
    uint64_t newLength = text.size();
    input = std::string(reinterpret_cast<const char *>(&newLength), 8) + text +
            input.substr(8 + length);
  }

  std::mt19937_64 rng_;
};

int usage() {
  std::fprintf(stderr, "usage: qb-fuzz-safetensors [--iterations N] "
                       "[--seed S] | --input FILE\n");
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  uint64_t iterations = 100000;
  uint64_t seed = 1;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc)
      return usage();
    std::string value = argv[++i];
    if (arg == "--input") {
      Expected<std::string> input = readFile(value);
      if (!input) {
        std::fprintf(stderr, "qb-fuzz-safetensors: %s\n",
                     input.message().c_str());
        return 1;
      }
      bool accepted = checkInput(*input);
      std::printf("%s: %s\n", value.c_str(),
                  accepted ? "accepted"
                           : SafetensorsFile::parse(*input).message().c_str());
      return 0;
    }
    char *end = nullptr;
    uint64_t number = std::strtoull(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0')
      return usage();
    if (arg == "--iterations")
      iterations = number;
    else if (arg == "--seed")
      seed = number;
    else
      return usage();
  }

  auto start = std::chrono::steady_clock::now();
  std::vector<std::string> seeds = buildSeeds();
  for (const std::string &valid : seeds)
    if (!checkInput(valid))
      oracleFailure("a seed file is rejected", valid);

  // Accepted mutants join the pool (bounded), so later mutations start
  // from inputs that already passed some checks.
  std::vector<std::string> pool = seeds;
  constexpr size_t kMaxPool = 256;
  Mutator mutator(seed);
  uint64_t accepted = 0;
  for (uint64_t i = 0; i < iterations; ++i) {
    std::string input;
    if (mutator.oneIn(10)) {
      input = mutator.randomBytes(96);
      if (mutator.oneIn(2) && input.size() >= 8) {
        uint64_t length = mutator.below(input.size() - 7);
        std::memcpy(input.data(), &length, 8);
      }
    } else {
      // Half from the seeds: the pool drifts towards trivial files.
      input = mutator.oneIn(2) ? seeds[mutator.below(seeds.size())]
                               : pool[mutator.below(pool.size())];
      mutator.mutate(input, pool);
    }
    if (checkInput(input)) {
      ++accepted;
      if (pool.size() < kMaxPool)
        pool.push_back(input);
      else
        pool[seeds.size() + mutator.below(kMaxPool - seeds.size())] = input;
    }
  }
  double seconds = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start)
                       .count();
  std::printf("qb-fuzz-safetensors: %llu inputs (seed %llu): %llu accepted, "
              "%llu rejected, no invariant broken, %.1f s\n",
              static_cast<unsigned long long>(iterations),
              static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(accepted),
              static_cast<unsigned long long>(iterations - accepted), seconds);
  for (size_t i = 0; i <= kNumRejectionKinds; ++i)
    std::printf("  %10llu  %s\n",
                static_cast<unsigned long long>(rejectionCounts[i]),
                i < kNumRejectionKinds ? kRejectionKinds[i] : "(other)");
  return 0;
}
#endif // QB_LIBFUZZER
