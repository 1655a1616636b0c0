//===- AlbertExport.h - Hugging Face ALBERT checkpoints ----------*- C++ -*-===//
//
// quant-bert-train export --albert: a classification model (float, QAT or
// bundle; the latter two dequantized) as a checkpoint of transformers'
// AlbertForSequenceClassification, so a weight-shared model (Sharing.h)
// loads there with its sharing intact:
//
//   config.json        model_type "albert", embedding_size, num_hidden_groups,
//                      inner_group_num 1, the BERT sizes and labels
//   model.safetensors  each stored tensor once, under ALBERT's names
//   vocab.txt, tokenizer_config.json (tokenizer_class BertTokenizer: the
//                      WordPiece vocabulary, not ALBERT's SentencePiece)
//
// Names (modeling_albert.py), for group g:
//   bert.embeddings.*                      -> albert.embeddings.*
//   bert.encoder.embedding_hidden_mapping_in -> albert.encoder.embedding_hidden_mapping_in
//   bert.encoder.layer.<g>.attention.self.{query,key,value}
//       -> albert.encoder.albert_layer_groups.<g>.albert_layers.0.attention.{query,key,value}
//   ...attention.output.dense / .LayerNorm -> ...attention.dense / .LayerNorm
//   ...intermediate.dense                  -> ...ffn
//   ...output.dense / .LayerNorm           -> ...ffn_output / ...full_layer_layer_norm
//   bert.pooler.dense                      -> albert.pooler
//   classifier                             -> classifier
//
// ALBERT always projects its embeddings: a model without a factorized
// embedding gets the identity projection (exact). A low-rank factorized
// linear is written as the product of its factors. Structurally pruned
// models are refused (ALBERT has no per-layer FFN widths).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRAIN_ALBERTEXPORT_H
#define QUANTBERT_TRAIN_ALBERTEXPORT_H

#include "quantbert/Support/BertConfig.h"
#include "quantbert/Support/Error.h"

#include <string>

namespace quantbert::train {

/// ALBERT's config.json for `config` (an unpruned model).
std::string albertConfigJson(const BertConfig &config);

/// The ALBERT name of the quant-bert tensor `name` of a classification
/// model, or "" for names ALBERT has no place for.
std::string albertTensorName(const std::string &name);

/// Writes the ALBERT checkpoint of the model in `checkpointDir` to `dir`
/// (created if needed), every file atomically.
Error exportAlbert(const std::string &checkpointDir, const std::string &dir);

} // namespace quantbert::train

#endif // QUANTBERT_TRAIN_ALBERTEXPORT_H
