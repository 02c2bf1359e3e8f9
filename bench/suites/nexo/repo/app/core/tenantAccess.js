'use strict';

const RLSContextManager = require('./db/RLSContextManager');
const { ForbiddenError, NotFoundError } = require('./errors');

// Lectura de una fila por id para los endpoints /:id: 404 si no existe en ningún tenant,
// 403 si existe pero es de otro tenant. Así lo exige el contrato de la API.
async function findForTenant(context, table, id, etiqueta) {
  const row = await RLSContextManager.query(context, (tx) => tx.findById(table, id));
  if (row) {
    return row;
  }
  const owner = await RLSContextManager.ownerOf(table, id);
  if (owner === null) {
    throw new NotFoundError(`${etiqueta} ${id} no existe`);
  }
  throw new ForbiddenError(`${etiqueta} ${id} pertenece a otro tenant`);
}

module.exports = { findForTenant };
