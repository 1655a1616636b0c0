//===- DataTokenizer.cpp - The runtime's WordPiece tokenizer for training -===//
//
// Wraps qbrt_tokenizer_* (runtime.h) so that training and the deployed
// model tokenize identically, and turns its int32 outputs into the int64
// tensors LibTorch's embeddings take.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/Data.h"

#include "quantbert/runtime.h"

namespace quantbert::train {

struct Tokenizer::Handles {
  qbrt_context *context = nullptr;
  qbrt_tokenizer *tokenizer = nullptr;
  ~Handles() {
    qbrt_tokenizer_destroy(tokenizer);
    qbrt_context_destroy(context);
  }
};

namespace {

Error runtimeError(const qbrt_context *ctx, const std::string &what) {
  return Error::failure(what + ": " + qbrt_last_error(ctx));
}

} // namespace

Expected<Tokenizer> Tokenizer::open(const std::string &vocabPath) {
  auto handles = std::make_shared<Handles>();
  // One tokenizer thread: batches are small and LibTorch owns the cores.
  if (qbrt_context_create(1, &handles->context) != QB_OK)
    return runtimeError(nullptr, "cannot create a runtime context");
  if (qbrt_tokenizer_create(handles->context, vocabPath.c_str(),
                            &handles->tokenizer) != QB_OK)
    return runtimeError(handles->context, vocabPath);
  Tokenizer tokenizer;
  tokenizer.handles_ = std::move(handles);
  return tokenizer;
}

int64_t Tokenizer::vocabSize() const {
  return qbrt_tokenizer_vocab_size(handles_->tokenizer);
}

Expected<int64_t> Tokenizer::tokenId(const std::string &token) const {
  int32_t id = 0;
  if (qbrt_tokenizer_token_to_id(handles_->tokenizer, token.c_str(), &id) !=
      QB_OK)
    return runtimeError(handles_->context, "vocabulary has no '" + token + "'");
  return int64_t(id);
}

Expected<std::vector<int32_t>> Tokenizer::tokenize(std::string_view text) const {
  int64_t count = 0;
  // Every WordPiece token covers at least one byte of the text.
  std::vector<int32_t> ids(text.size() + 1);
  if (qbrt_tokenizer_tokenize(handles_->tokenizer, text.data(),
                              int64_t(text.size()), ids.data(),
                              int64_t(ids.size()), &count) != QB_OK)
    return runtimeError(handles_->context, "tokenize");
  ids.resize(count);
  return ids;
}

Expected<EncoderInputs>
Tokenizer::encode(const std::vector<const TextExample *> &batch,
                  int64_t maxLength) const {
  int64_t n = int64_t(batch.size());
  std::vector<const char *> texts(n), pairs(n);
  std::vector<int64_t> textLens(n), pairLens(n);
  bool anyPair = false;
  for (int64_t i = 0; i < n; ++i) {
    texts[i] = batch[i]->textA.data();
    textLens[i] = int64_t(batch[i]->textA.size());
    pairs[i] = batch[i]->textB.empty() ? nullptr : batch[i]->textB.data();
    pairLens[i] = int64_t(batch[i]->textB.size());
    anyPair |= pairs[i] != nullptr;
  }
  std::vector<int32_t> ids(n * maxLength), types(n * maxLength),
      mask(n * maxLength);
  int64_t seqLen = 0;
  if (qbrt_tokenizer_encode_batch(
          handles_->tokenizer, n, texts.data(), textLens.data(),
          anyPair ? pairs.data() : nullptr, anyPair ? pairLens.data() : nullptr,
          maxLength, QBRT_PAD_TO_LONGEST, ids.data(), types.data(), mask.data(),
          nullptr, &seqLen) != QB_OK)
    return runtimeError(handles_->context, "encode");
  auto toTensor = [&](std::vector<int32_t> &values) {
    return torch::from_blob(values.data(), {n, seqLen}, torch::kInt32)
        .to(torch::kInt64);
  };
  return EncoderInputs{toTensor(ids), toTensor(types), toTensor(mask)};
}

} // namespace quantbert::train
