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

void QBDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "QuantBert/QBAttrs.cpp.inc"
      >();
}
