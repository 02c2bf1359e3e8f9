'use strict';

const store = require('./store');

// Row-level security: la única puerta a los datos. query(context, work) abre una unidad de
// trabajo ligada a context.tenantId; la transacción que recibe `work` solo ve, crea, modifica
// y borra filas de ese tenant. Si `work` lanza, todos sus cambios se deshacen.

class TenantTransaction {
  constructor(tenantId) {
    this.tenantId = tenantId;
  }

  visible(table) {
    return store.rows(table).filter((row) => row.tenantId === this.tenantId);
  }

  find(table, filter = {}) {
    return this.visible(table)
      .filter((row) => Object.entries(filter).every(([field, value]) => row[field] === value))
      .sort((a, b) => a.id - b.id)
      .map((row) => structuredClone(row));
  }

  findOne(table, filter = {}) {
    return this.find(table, filter)[0] || null;
  }

  findById(table, id) {
    return this.findOne(table, { id: Number(id) });
  }

  insert(table, values) {
    if (values.tenantId !== undefined && values.tenantId !== this.tenantId) {
      throw new Error(`RLS: no se puede insertar en ${table} para otro tenant`);
    }
    const row = { ...structuredClone(values), id: store.nextId(table), tenantId: this.tenantId };
    store.rows(table).push(row);
    return structuredClone(row);
  }

  update(table, id, changes) {
    if ('id' in changes || 'tenantId' in changes) {
      throw new Error('RLS: id y tenantId no se pueden modificar');
    }
    const row = this.visible(table).find((candidate) => candidate.id === Number(id));
    if (!row) {
      return null;
    }
    Object.assign(row, structuredClone(changes));
    return structuredClone(row);
  }

  remove(table, id) {
    const all = store.rows(table);
    const index = all.findIndex((row) => row.id === Number(id) && row.tenantId === this.tenantId);
    if (index === -1) {
      return false;
    }
    all.splice(index, 1);
    return true;
  }
}

class RLSContextManager {
  static async query(context, work) {
    const tenantId = context && context.tenantId;
    if (!tenantId) {
      throw new Error('RLSContextManager.query sin tenant: pasa req.context');
    }
    if (typeof work !== 'function') {
      throw new TypeError('RLSContextManager.query espera una función (tx) => ...');
    }
    const saved = store.snapshot();
    try {
      return await work(new TenantTransaction(tenantId));
    } catch (error) {
      store.restore(saved);
      throw error;
    }
  }

  // Solo para distinguir 404 de 403: dice a qué tenant pertenece una fila, nunca sus datos.
  static async ownerOf(table, id) {
    const row = store.rows(table).find((candidate) => candidate.id === Number(id));
    return row ? row.tenantId : null;
  }

  // Tests y arranque: sustituye todos los datos.
  static reset(seed = {}) {
    store.reset(seed);
  }
}

module.exports = RLSContextManager;
