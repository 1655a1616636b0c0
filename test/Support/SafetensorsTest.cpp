//===- SafetensorsTest.cpp - Safetensors reader/writer tests --------------===//
//
// Writer-to-reader round trips (bit-exact, every dtype), one rejection test
// per validation rule (each asserting the message names the problem),
// requireTensor's messages, exact F16/BF16 conversion on hand-picked values,
// and the atomic-write guarantees.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Support/FileIO.h"
#include "quantbert/Support/Safetensors.h"
#include "TestSupport.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <sys/stat.h>
#include <unistd.h>

using namespace quantbert;
using quantbert::test::ScratchDir;

namespace {

/// A file from a literal header and data buffer (header used verbatim).
std::string makeFile(const std::string &header, const std::string &data = "") {
  uint64_t size = header.size();
  return std::string(reinterpret_cast<const char *>(&size), 8) + header + data;
}

/// The message of parsing `bytes`, which must fail.
std::string parseError(std::string bytes) {
  Expected<SafetensorsFile> file = SafetensorsFile::parse(std::move(bytes));
  EXPECT_FALSE(file) << "expected the parse to fail";
  return file ? std::string() : file.message();
}

std::string bytesOf(const ByteView &view) {
  return std::string(reinterpret_cast<const char *>(view.data), view.size);
}

TEST(SafetensorsTest, RoundTripsEveryDTypeBitExact) {
  const DType dtypes[] = {DType::F32, DType::F16, DType::BF16, DType::F64,
                          DType::I64, DType::I32, DType::I16, DType::I8,
                          DType::U8,  DType::Bool};
  SafetensorsWriter writer;
  std::map<std::string, std::string> expected;
  uint32_t state = 12345;
  for (DType dtype : dtypes) {
    std::string name = "t." + std::string(dtypeName(dtype));
    std::vector<int64_t> shape = {3, 5};
    std::string bytes(15 * dtypeSize(dtype), '\0');
    for (char &byte : bytes) {
      state = state * 1664525u + 1013904223u;
      byte = static_cast<char>(dtype == DType::Bool ? (state >> 31) : state >> 24);
    }
    ASSERT_FALSE(writer.add(name, dtype, shape, bytes.data(), bytes.size()));
    expected[name] = bytes;
  }
  // Odd-sized and empty tensors must not break alignment or coverage.
  uint8_t odd[3] = {1, 2, 3};
  ASSERT_FALSE(writer.add("odd", DType::U8, {3}, odd, 3));
  ASSERT_FALSE(writer.add("empty", DType::F32, {0, 4}, nullptr, 0));
  ASSERT_FALSE(writer.add("scalar", DType::I64, {}, "\x01\0\0\0\0\0\0\x80", 8));
  expected["odd"] = std::string("\x01\x02\x03", 3);
  expected["empty"] = "";
  expected["scalar"] = std::string("\x01\0\0\0\0\0\0\x80", 8);
  ASSERT_FALSE(writer.setMetadata("format", "pt"));

  std::string bytes = writer.serialize();
  uint64_t headerSize;
  std::memcpy(&headerSize, bytes.data(), 8);
  EXPECT_EQ(headerSize % 8, 0u) << "header is padded to a multiple of 8";

  Expected<SafetensorsFile> file = SafetensorsFile::parse(bytes);
  ASSERT_TRUE(file) << file.message();
  EXPECT_EQ(file->tensors().size(), expected.size());
  for (const TensorInfo &tensor : file->tensors()) {
    ASSERT_TRUE(expected.count(tensor.name)) << tensor.name;
    EXPECT_EQ(bytesOf(file->bytes(tensor)), expected[tensor.name])
        << tensor.name;
    EXPECT_EQ(tensor.begin % dtypeSize(tensor.dtype), 0u)
        << tensor.name << " is aligned to its element size";
  }
  EXPECT_EQ(file->find("t.F32")->shape, (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(file->find("scalar")->numElements(), 1u);
  EXPECT_EQ(file->metadata().at("format"), "pt");
  // The writer is deterministic: writing what was read gives the same bytes.
  EXPECT_EQ(writer.serialize(), bytes);
}

TEST(SafetensorsTest, NamesComeInOffsetOrder) {
  std::string header =
      R"({"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
      R"("a":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}})";
  Expected<SafetensorsFile> file = SafetensorsFile::parse(makeFile(header, "xyz"));
  ASSERT_TRUE(file) << file.message();
  EXPECT_EQ(file->names(), (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(file->find("c"), nullptr);
}

TEST(SafetensorsTest, AcceptsSpacePaddedHeaderAndEmptyFile) {
  Expected<SafetensorsFile> file = SafetensorsFile::parse(makeFile("{}      "));
  ASSERT_TRUE(file) << file.message();
  EXPECT_TRUE(file->tensors().empty());
  EXPECT_EQ(file->dataSize(), 0u);
}

TEST(SafetensorsTest, RejectsTruncatedFile) {
  EXPECT_EQ(parseError(std::string("\x02\0\0\0", 4)),
            "safetensors: file is truncated: 4 bytes, need at least 8 for the "
            "header length");
}

TEST(SafetensorsTest, RejectsHeaderLengthPastEnd) {
  std::string bytes = makeFile("{}");
  bytes[0] = 100;
  EXPECT_EQ(parseError(bytes), "safetensors: header length 100 runs past the "
                               "end of the file (2 bytes follow the length "
                               "field)");
}

TEST(SafetensorsTest, RejectsAbsurdHeaderLength) {
  std::string bytes = makeFile("{}");
  bytes[7] = 0x7f;
  EXPECT_NE(parseError(bytes).find("exceeds the limit of 100000000 bytes"),
            std::string::npos);
}

TEST(SafetensorsTest, RejectsInvalidJson) {
  std::string message = parseError(makeFile(R"({"a": )"));
  EXPECT_NE(message.find("header is not valid JSON"), std::string::npos)
      << message;
  message = parseError(makeFile("[1, 2]"));
  EXPECT_NE(message.find("header is not a JSON object (got array)"),
            std::string::npos)
      << message;
  message = parseError(makeFile("{\"\xff\": 1}"));
  EXPECT_NE(message.find("header is not valid JSON"), std::string::npos)
      << "invalid UTF-8 is rejected: " << message;
}

TEST(SafetensorsTest, RejectsDuplicateTensorNames) {
  std::string header =
      R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
      R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})";
  EXPECT_NE(parseError(makeFile(header, "xy")).find("duplicate key 'a'"),
            std::string::npos);
}

TEST(SafetensorsTest, RejectsMissingAndMistypedFields) {
  EXPECT_EQ(parseError(makeFile(R"({"w":{"dtype":"F32","shape":[1]}})", "abcd")),
            "safetensors: tensor 'w': missing field 'data_offsets'");
  EXPECT_EQ(parseError(makeFile(
                R"({"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})", "abcd")),
            "safetensors: tensor 'w': field 'dtype' must be a string, got 4");
  EXPECT_EQ(parseError(makeFile(
                R"({"w":{"dtype":"F32","shape":"1","data_offsets":[0,4]}})",
                "abcd")),
            "safetensors: tensor 'w': field 'shape' must be an array, got \"1\"");
  EXPECT_EQ(parseError(makeFile(
                R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})",
                "abcd")),
            "safetensors: tensor 'w': dimension 0 of 'shape' must be a "
            "non-negative integer, got 1.5");
  EXPECT_EQ(parseError(makeFile(R"({"w":[]})")),
            "safetensors: tensor 'w': entry must be a JSON object, got array");
  EXPECT_EQ(parseError(makeFile(R"({"__metadata__":{"k":1}})")),
            "safetensors: '__metadata__' entry 'k' must be a string, got 1");
}

TEST(SafetensorsTest, RejectsUnknownDType) {
  std::string message = parseError(makeFile(
      R"({"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", "a"));
  EXPECT_NE(message.find("tensor 'w': unknown dtype 'F8_E4M3'"),
            std::string::npos)
      << message;
}

TEST(SafetensorsTest, RejectsNegativeDimension) {
  EXPECT_EQ(parseError(makeFile(
                R"({"w":{"dtype":"U8","shape":[2,-1],"data_offsets":[0,0]}})")),
            "safetensors: tensor 'w': dimension 1 of 'shape' is negative (-1)");
}

TEST(SafetensorsTest, RejectsShapeProductOverflow) {
  std::string message = parseError(makeFile(
      R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],)"
      R"("data_offsets":[0,0]}})"));
  EXPECT_NE(message.find("tensor 'w': shape [4294967296, 4294967296] "
                         "overflows"),
            std::string::npos)
      << message;
}

TEST(SafetensorsTest, ReaderAndWriterAgreeOnHugeEmptyShapes) {
  // Found by qb-fuzz-safetensors: the writer multiplied in another order and
  // rejected an empty tensor the reader had accepted. Both now multiply the
  // dims left to right, then the element size.
  std::string header = R"({"w":{"dtype":"F64","shape":[2043436466907172162,)"
                       R"(7,0],"data_offsets":[0,0]}})";
  Expected<SafetensorsFile> file = SafetensorsFile::parse(makeFile(header));
  ASSERT_TRUE(file) << file.message();
  SafetensorsWriter writer;
  EXPECT_FALSE(writer.add("w", DType::F64, file->find("w")->shape, nullptr, 0));

  std::vector<int64_t> overflowing = {int64_t{1} << 62, 8, 0};
  EXPECT_NE(parseError(makeFile(R"({"w":{"dtype":"U8","shape":[)" +
                                std::to_string(overflowing[0]) +
                                R"(,8,0],"data_offsets":[0,0]}})"))
                .find("overflows"),
            std::string::npos);
  EXPECT_EQ(writer.add("v", DType::U8, overflowing, nullptr, 0).message(),
            "safetensors writer: tensor 'v': shape [4611686018427387904, 8, "
            "0] overflows 64 bits");
}

TEST(SafetensorsTest, RejectsMalformedOffsets) {
  EXPECT_EQ(parseError(makeFile(
                R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[4,2]}})",
                "abcd")),
            "safetensors: tensor 'w': data_offsets [4, 2] must have begin <= "
            "end");
  EXPECT_EQ(parseError(makeFile(
                R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[1]}})", "a")),
            "safetensors: tensor 'w': field 'data_offsets' must be [begin, "
            "end], got [1]");
}

TEST(SafetensorsTest, RejectsOutOfRangeOffsets) {
  EXPECT_EQ(parseError(makeFile(
                R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                "abcd")),
            "safetensors: tensor 'w': data_offsets [0, 8] run past the end of "
            "the data buffer (4 bytes)");
}

TEST(SafetensorsTest, RejectsShapeSizeMismatch) {
  EXPECT_EQ(parseError(makeFile(
                R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})",
                std::string(20, 'x'))),
            "safetensors: tensor 'w': shape/size mismatch: shape [2, 3] of F32 "
            "needs 24 bytes but data_offsets [0, 20] hold 20");
}

TEST(SafetensorsTest, RejectsOverlappingTensors) {
  std::string header =
      R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})";
  EXPECT_EQ(parseError(makeFile(header, std::string(16, 'x'))),
            "safetensors: tensors 'a' [0, 16] and 'b' [8, 16] have overlapping "
            "data_offsets");
}

TEST(SafetensorsTest, RejectsGapsInTheDataBuffer) {
  std::string header =
      R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
      R"("b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}})";
  EXPECT_EQ(parseError(makeFile(header, "abcdef")),
            "safetensors: gap in the data buffer: bytes [2, 4) belong to no "
            "tensor (before 'b')");
  header = R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})";
  EXPECT_EQ(parseError(makeFile(header, "abcd")),
            "safetensors: gap in the data buffer: bytes [2, 4) at its end "
            "belong to no tensor");
}

TEST(SafetensorsTest, RequireTensorNamesTheProblem) {
  SafetensorsWriter writer;
  std::vector<float> weight(6, 1.0f);
  ASSERT_FALSE(writer.add("x", DType::F32, {2, 3}, weight.data(), 24));
  Expected<SafetensorsFile> file = SafetensorsFile::parse(writer.serialize());
  ASSERT_TRUE(file) << file.message();

  Expected<const TensorInfo *> found =
      file->requireTensor("x", DType::F32, {2, 3});
  ASSERT_TRUE(found) << found.message();
  EXPECT_EQ((*found)->name, "x");

  EXPECT_EQ(file->requireTensor(
                     "bert.encoder.layer.3.attention.self.query.weight",
                     DType::F32, {768, 768})
                .message(),
            "safetensors: missing tensor "
            "'bert.encoder.layer.3.attention.self.query.weight'");
  EXPECT_EQ(file->requireTensor("x", DType::F32, {3, 2}).message(),
            "safetensors: tensor 'x' has shape [2, 3], expected [3, 2]");
  EXPECT_EQ(file->requireTensor("x", DType::F16, {2, 3}).message(),
            "safetensors: tensor 'x' has dtype F32, expected F16");
}

TEST(SafetensorsTest, HalfToFloatIsExact) {
  EXPECT_EQ(halfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(halfToFloat(0xc100), -2.5f);
  EXPECT_EQ(halfToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(halfToFloat(0x0001), std::ldexp(1.0f, -24)) << "min subnormal";
  EXPECT_EQ(halfToFloat(0x03ff), std::ldexp(1023.0f, -24)) << "max subnormal";
  EXPECT_EQ(halfToFloat(0x0400), std::ldexp(1.0f, -14)) << "min normal";
  EXPECT_EQ(halfToFloat(0x8000), 0.0f);
  EXPECT_TRUE(std::signbit(halfToFloat(0x8000)));
  EXPECT_EQ(halfToFloat(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(halfToFloat(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(halfToFloat(0x7e00)));
  EXPECT_TRUE(std::isnan(halfToFloat(0x7c01))) << "signalling NaN stays NaN";
}

TEST(SafetensorsTest, BFloat16ToFloatIsExact) {
  EXPECT_EQ(bfloat16ToFloat(0x3f80), 1.0f);
  EXPECT_EQ(bfloat16ToFloat(0xc020), -2.5f);
  EXPECT_EQ(bfloat16ToFloat(0x477f), 65280.0f);
  EXPECT_EQ(bfloat16ToFloat(0x0001), std::ldexp(1.0f, -133)) << "subnormal";
  EXPECT_EQ(bfloat16ToFloat(0x7f80), std::numeric_limits<float>::infinity());
  EXPECT_EQ(bfloat16ToFloat(0xff80), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(bfloat16ToFloat(0x7fc0)));
}

TEST(SafetensorsTest, ReadF32ConvertsHalfTypes) {
  SafetensorsWriter writer;
  uint16_t half[] = {0x3c00, 0xc100, 0x0001};
  uint16_t bf16[] = {0x3f80, 0xc020, 0x7f80};
  float f32[] = {0.5f, -0.0f, 3.0f};
  int8_t codes[] = {1, -1, 0};
  ASSERT_FALSE(writer.add("h", DType::F16, {3}, half, sizeof(half)));
  ASSERT_FALSE(writer.add("b", DType::BF16, {3}, bf16, sizeof(bf16)));
  ASSERT_FALSE(writer.add("f", DType::F32, {3}, f32, sizeof(f32)));
  ASSERT_FALSE(writer.add("c", DType::I8, {3}, codes, sizeof(codes)));
  Expected<SafetensorsFile> file = SafetensorsFile::parse(writer.serialize());
  ASSERT_TRUE(file) << file.message();

  Expected<std::vector<float>> h = file->readF32("h");
  ASSERT_TRUE(h) << h.message();
  EXPECT_EQ(*h, (std::vector<float>{1.0f, -2.5f, std::ldexp(1.0f, -24)}));
  Expected<std::vector<float>> b = file->readF32("b");
  ASSERT_TRUE(b) << b.message();
  EXPECT_EQ(*b, (std::vector<float>{1.0f, -2.5f,
                                    std::numeric_limits<float>::infinity()}));
  Expected<std::vector<float>> f = file->readF32("f");
  ASSERT_TRUE(f) << f.message();
  EXPECT_EQ(*f, (std::vector<float>{0.5f, -0.0f, 3.0f}));
  EXPECT_EQ(file->readF32("c").message(),
            "safetensors: tensor 'c' has dtype I8; only F32, F16 and BF16 "
            "convert exactly to f32");
}

TEST(SafetensorsTest, WriterRejectsBadTensors) {
  SafetensorsWriter writer;
  float data[4] = {};
  EXPECT_EQ(writer.add("w", DType::F32, {2, 3}, data, 16).message(),
            "safetensors writer: tensor 'w': shape [2, 3] of F32 needs 24 "
            "bytes, got 16");
  EXPECT_EQ(writer.add("w", DType::F32, {-4}, data, 16).message(),
            "safetensors writer: tensor 'w': shape [-4] has a negative "
            "dimension");
  EXPECT_EQ(writer.add("__metadata__", DType::F32, {4}, data, 16).message(),
            "safetensors writer: tensor '__metadata__': the name is reserved "
            "for metadata");
  ASSERT_FALSE(writer.add("w", DType::F32, {4}, data, 16));
  EXPECT_EQ(writer.add("w", DType::F32, {4}, data, 16).message(),
            "safetensors writer: tensor 'w': added twice");
  EXPECT_TRUE(writer.add("\xc3", DType::F32, {4}, data, 16));
  EXPECT_TRUE(writer.setMetadata("", "x"));
}

TEST(SafetensorsTest, OpenReadsWrittenFile) {
  ScratchDir dir;
  std::string path = dir.path() + "/model.safetensors";
  SafetensorsWriter writer;
  float data[2] = {1.5f, -2.0f};
  ASSERT_FALSE(writer.add("w", DType::F32, {2}, data, sizeof(data)));
  ASSERT_FALSE(writer.writeAtomically(path));

  Expected<SafetensorsFile> file = SafetensorsFile::open(path);
  ASSERT_TRUE(file) << file.message();
  EXPECT_EQ(*file->readF32("w"), (std::vector<float>{1.5f, -2.0f}));
  // Copies share the mapping and outlive the original.
  SafetensorsFile copy = *file;
  file = Error::failure("dropped");
  EXPECT_EQ(*copy.readF32("w"), (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(copy.requireTensor("v", DType::F32, {2}).message(),
            path + ": missing tensor 'v'");
  EXPECT_FALSE(test::exists(path + ".tmp." + std::to_string(::getpid())));
}

TEST(SafetensorsTest, OpenReportsMissingAndEmptyFiles) {
  ScratchDir dir;
  std::string missing = dir.path() + "/missing.safetensors";
  EXPECT_EQ(SafetensorsFile::open(missing).message(),
            missing + ": cannot open: No such file or directory");
  std::string empty = dir.path() + "/empty.safetensors";
  ASSERT_FALSE(writeFileAtomically(empty, ""));
  EXPECT_EQ(SafetensorsFile::open(empty).message(),
            empty + ": file is truncated: 0 bytes, need at least 8 for the "
                    "header length");
  EXPECT_EQ(SafetensorsFile::open(dir.path()).message(),
            dir.path() + ": not a regular file");
}

TEST(AtomicWriteTest, MissingDirectoryFailsCleanly) {
  ScratchDir dir;
  std::string path = dir.path() + "/no/such/dir/model.safetensors";
  SafetensorsWriter writer;
  Error err = writer.writeAtomically(path);
  ASSERT_TRUE(err);
  EXPECT_NE(err.message().find("cannot create temporary file"),
            std::string::npos)
      << err.message();
  EXPECT_NE(err.message().find("No such file or directory"), std::string::npos)
      << err.message();
}

TEST(AtomicWriteTest, FailedRenameLeavesTargetAndNoTemporary) {
  ScratchDir dir;
  // A directory cannot be replaced by a file, so the final rename fails.
  std::string target = dir.path() + "/target";
  ASSERT_EQ(::mkdir(target.c_str(), 0755), 0);
  SafetensorsWriter writer;
  Error err = writer.writeAtomically(target);
  ASSERT_TRUE(err);
  EXPECT_NE(err.message().find("cannot replace"), std::string::npos)
      << err.message();
  struct stat info;
  ASSERT_EQ(::stat(target.c_str(), &info), 0);
  EXPECT_TRUE(S_ISDIR(info.st_mode));
  EXPECT_EQ(test::listDir(dir.path()), std::vector<std::string>{"target"});
}

TEST(AtomicWriteTest, FailureWhileWritingKeepsOldContents) {
  ScratchDir dir;
  std::string path = dir.path() + "/config.json";
  ASSERT_FALSE(writeFileAtomically(path, "old"));
  Error err = writeFileAtomically(path, [](const ChunkWriter &write) {
    if (Error partial = write("new, but only hal", 17))
      return partial;
    return Error::failure("injected fault");
  });
  EXPECT_EQ(err.message(), "injected fault");
  EXPECT_EQ(*readFile(path), "old");
  EXPECT_EQ(test::listDir(dir.path()), std::vector<std::string>{"config.json"});

  ASSERT_FALSE(writeFileAtomically(path, "new"));
  EXPECT_EQ(*readFile(path), "new");
}

} // namespace
