//===- Data.h - Training data: TSV datasets, tokenization, MLM ---*- C++ -*-===//
//
// The data side of quant-bert-train:
//   - labelled GLUE-style TSV files (a header row naming `text`, or `text_a`
//     and `text_b`, and `label`), such as the Brown genre splits that
//     scripts/fetch-data writes;
//   - tokenization into encoder inputs through the runtime's WordPiece
//     tokenizer (runtime.h), so training sees the ids the deployed model sees;
//   - masked-LM blocks and masking (Devlin et al., sec. 3.1, task #1).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRAIN_DATA_H
#define QUANTBERT_TRAIN_DATA_H

#include "quantbert/Support/Error.h"
#include "quantbert/Train/BertModel.h"

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct qbrt_context;
struct qbrt_tokenizer;

namespace quantbert::train {

/// One labelled text or text pair.
struct TextExample {
  std::string textA;
  /// Empty for single-text datasets.
  std::string textB;
  int64_t label = 0;
};

/// A labelled dataset.
struct TextDataset {
  std::vector<TextExample> examples;
  /// Label names by id.
  std::vector<std::string> labelNames;
  /// True when the file has `text_a` and `text_b`.
  bool hasPairs = false;
};

/// Parses TSV text. Columns are found by the header: `text`, or `text_a` and
/// `text_b`, and `label`; other columns are ignored. Fields are not quoted
/// (GLUE's convention) and every row has the header's number of fields.
/// With `labelNames`, labels are looked up in it (an unknown label is an
/// error: dev and test sets use the training set's labels). Without it, if
/// every label is a non-negative integer, that integer is the id and the
/// names are "0".."max"; otherwise the distinct labels, sorted, are the
/// names. Errors read "SOURCE:LINE: message".
Expected<TextDataset> parseTsv(std::string_view text, const std::string &source,
                               const std::vector<std::string> *labelNames =
                                   nullptr);

/// The texts of a TSV as parseTsv reads them, the `label` column optional
/// and ignored (labels are 0).
Expected<std::vector<TextExample>> parseTexts(std::string_view text,
                                              const std::string &source);

/// Reads and parses the TSV file at `path`.
Expected<TextDataset> readTsv(const std::string &path,
                              const std::vector<std::string> *labelNames =
                                  nullptr);

/// Every example's label id, in order.
std::vector<int64_t> labelIds(const TextDataset &dataset);

/// The runtime's WordPiece tokenizer with the vocabulary of a checkpoint.
class Tokenizer {
public:
  static Expected<Tokenizer> open(const std::string &vocabPath);

  int64_t vocabSize() const;
  /// Id of a vocabulary entry such as "[MASK]".
  Expected<int64_t> tokenId(const std::string &token) const;
  /// WordPiece ids of `text` without special tokens.
  Expected<std::vector<int32_t>> tokenize(std::string_view text) const;
  /// "[CLS] a [SEP]" or "[CLS] a [SEP] b [SEP]" per example, truncated to
  /// `maxLength` and padded to the longest row.
  Expected<EncoderInputs> encode(const std::vector<const TextExample *> &batch,
                                 int64_t maxLength) const;

private:
  struct Handles;
  std::shared_ptr<Handles> handles_;
};

/// The special token ids masking needs.
struct SpecialTokens {
  int64_t pad = 0;
  int64_t cls = 101;
  int64_t sep = 102;
  int64_t mask = 103;
  int64_t vocabSize = 30522;

  /// Looks the ids up in the tokenizer's vocabulary.
  static Expected<SpecialTokens> fromTokenizer(const Tokenizer &tokenizer);
};

/// Tokenizes `lines` (one document a line) as one stream and cuts it into
/// blocks of `seqLength` ids, each "[CLS] seqLength-2 ids [SEP]" (the
/// trailing partial block is dropped), as transformers' run_mlm.py
/// group_texts does. Returns [numBlocks, seqLength] int64.
Expected<torch::Tensor> buildMlmBlocks(const Tokenizer &tokenizer,
                                       const std::vector<std::string> &lines,
                                       int64_t seqLength,
                                       const SpecialTokens &special);

/// Encoder inputs with some tokens masked, and the MLM labels.
struct MaskedBatch {
  EncoderInputs inputs;
  /// The original id at masked positions, -100 (ignored) elsewhere.
  torch::Tensor labels;
};

/// BERT's masking (Devlin et al., sec. 3.1): each non-special token is
/// chosen with probability `probability`; of the chosen, 80% become [MASK],
/// 10% a uniformly random token, 10% stay. Special tokens ([CLS], [SEP],
/// [PAD]) are never chosen. `inputIds` is [batch, seq] int64 with [PAD]
/// marking padding; draws come from `generator` only, so a seed reproduces
/// the masks.
MaskedBatch maskTokens(const torch::Tensor &inputIds, const SpecialTokens &special,
                       at::Generator generator, double probability = 0.15);

} // namespace quantbert::train

#endif // QUANTBERT_TRAIN_DATA_H
