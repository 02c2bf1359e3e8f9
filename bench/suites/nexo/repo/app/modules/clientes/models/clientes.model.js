'use strict';

const RLSContextManager = require('../../../core/db/RLSContextManager');
const { ConflictError } = require('../../../core/errors');
const { findForTenant } = require('../../../core/tenantAccess');
const { hoy } = require('../../../core/params');

const TABLE = 'clientes';

async function listar(context) {
  return RLSContextManager.query(context, (tx) => tx.find(TABLE));
}

async function obtener(context, id) {
  return findForTenant(context, TABLE, id, 'Cliente');
}

async function crear(context, datos) {
  return RLSContextManager.query(context, (tx) => {
    // El NIF es único dentro de un tenant; otro tenant puede tener el mismo cliente.
    if (tx.findOne(TABLE, { nif: datos.nif })) {
      throw new ConflictError(`Ya existe un cliente con NIF ${datos.nif}`);
    }
    return tx.insert(TABLE, { ...datos, creadoEn: hoy() });
  });
}

module.exports = { listar, obtener, crear };
