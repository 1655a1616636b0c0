//===- DataMlm.cpp - Masked-LM blocks and BERT masking --------------------===//
//
// Pretraining data as transformers' run_mlm.py prepares it: the corpus is
// one token stream cut into fixed-length blocks (no padding, so every
// position trains), and masking happens per batch, so each epoch sees fresh
// masks drawn from the seeded generator.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/Data.h"

namespace quantbert::train {

Expected<SpecialTokens> SpecialTokens::fromTokenizer(const Tokenizer &tokenizer) {
  SpecialTokens special;
  for (auto [token, id] : {std::pair{"[PAD]", &special.pad},
                           std::pair{"[CLS]", &special.cls},
                           std::pair{"[SEP]", &special.sep},
                           std::pair{"[MASK]", &special.mask}}) {
    Expected<int64_t> found = tokenizer.tokenId(token);
    if (!found)
      return found.error();
    *id = *found;
  }
  special.vocabSize = tokenizer.vocabSize();
  return special;
}

Expected<torch::Tensor> buildMlmBlocks(const Tokenizer &tokenizer,
                                       const std::vector<std::string> &lines,
                                       int64_t seqLength,
                                       const SpecialTokens &special) {
  if (seqLength < 3)
    return Error::failure("MLM sequence length must be at least 3, got " +
                          std::to_string(seqLength));
  std::vector<int64_t> blocks;
  std::vector<int64_t> block{special.cls};
  for (const std::string &line : lines) {
    Expected<std::vector<int32_t>> ids = tokenizer.tokenize(line);
    if (!ids)
      return ids.error();
    for (int32_t id : *ids) {
      block.push_back(id);
      if (int64_t(block.size()) == seqLength - 1) {
        block.push_back(special.sep);
        blocks.insert(blocks.end(), block.begin(), block.end());
        block.assign(1, special.cls);
      }
    }
  }
  int64_t count = int64_t(blocks.size()) / seqLength;
  if (count == 0)
    return Error::failure("MLM corpus has fewer than " +
                          std::to_string(seqLength - 2) + " tokens");
  return torch::tensor(blocks, torch::kInt64).view({count, seqLength});
}

MaskedBatch maskTokens(const torch::Tensor &inputIds,
                       const SpecialTokens &special, at::Generator generator,
                       double probability) {
  torch::Tensor isSpecial = inputIds.eq(special.pad) | inputIds.eq(special.cls) |
                           inputIds.eq(special.sep);
  torch::Tensor chosen =
      torch::bernoulli(torch::full(inputIds.sizes(), probability), generator)
          .to(torch::kBool) &
      ~isSpecial;
  MaskedBatch batch;
  batch.labels = inputIds.masked_fill(~chosen, -100);
  // Devlin et al., sec. 3.1 / appendix A.1: 80% [MASK]; half of the other
  // 20% a random token, the rest unchanged.
  torch::Tensor toMask =
      torch::bernoulli(torch::full(inputIds.sizes(), 0.8), generator)
          .to(torch::kBool) &
      chosen;
  torch::Tensor toRandom =
      torch::bernoulli(torch::full(inputIds.sizes(), 0.5), generator)
          .to(torch::kBool) &
      chosen & ~toMask;
  torch::Tensor randomIds = torch::randint(special.vocabSize, inputIds.sizes(),
                                           generator, torch::kInt64);
  torch::Tensor ids = inputIds.masked_fill(toMask, special.mask);
  ids = torch::where(toRandom, randomIds, ids);
  batch.inputs.inputIds = ids;
  batch.inputs.tokenTypeIds = torch::zeros_like(inputIds);
  batch.inputs.attentionMask = inputIds.ne(special.pad).to(torch::kInt64);
  return batch;
}

} // namespace quantbert::train
