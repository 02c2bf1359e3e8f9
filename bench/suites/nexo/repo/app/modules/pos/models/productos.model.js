'use strict';

const RLSContextManager = require('../../../core/db/RLSContextManager');

const TABLE = 'productos';

async function listar(context) {
  return RLSContextManager.query(context, (tx) => tx.find(TABLE));
}

module.exports = { listar };
