//===- QBAttrs.cpp - qb dialect attributes -------------------------------===//
//
// Generated enum and attribute definitions of the qb dialect.
//
//===----------------------------------------------------------------------===//

#include "QuantBert/QBAttrs.h"
#include "QuantBert/QBDialect.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace quantbert::qb;

#include "QuantBert/QBEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "QuantBert/QBAttrs.cpp.inc"

Precision quantbert::qb::precisionOfQuantizer(Quantizer quantizer) {
  switch (quantizer) {
  case Quantizer::symmetric_ema:
  case Quantizer::asymmetric_index:
    return Precision::i8;
  case Quantizer::twn:
    return Precision::ternary;
  case Quantizer::binary_sign:
  case Quantizer::binary_mean_scale:
    return Precision::binary;
  }
  llvm_unreachable("unknown quantizer");
}

bool quantbert::qb::isFloatPrecision(Precision precision) {
  return precision == Precision::f32 || precision == Precision::f16 ||
         precision == Precision::bf16;
}

void QBDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "QuantBert/QBAttrs.cpp.inc"
      >();
}
