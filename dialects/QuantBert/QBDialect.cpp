//===- QBDialect.cpp - The qb dialect ------------------------------------===//
//
// Registers the qb operations and attributes, and materializes the constants
// that qb folders produce (as arith.constant).
//
//===----------------------------------------------------------------------===//

#include "QuantBert/QBDialect.h"
#include "QuantBert/QBOps.h"

using namespace mlir;
using namespace quantbert::qb;

#include "QuantBert/QBDialect.cpp.inc"

void QBDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "QuantBert/QBOps.cpp.inc"
      >();
  registerAttributes();
}

Operation *QBDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                          Type type, Location loc) {
  return arith::ConstantOp::materialize(builder, value, type, loc);
}
