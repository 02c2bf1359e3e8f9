'use strict';

// Almacén en memoria que hace de PostgreSQL en este repositorio. SOLO RLSContextManager puede
// requerir este módulo: cualquier otro acceso se saltaría el aislamiento por tenant.

const TABLES = Object.freeze(['clientes', 'productos', 'facturas', 'ventas']);

let tables = emptyTables();
let sequences = {};

function emptyTables() {
  return Object.fromEntries(TABLES.map((name) => [name, []]));
}

function assertTable(name) {
  if (!TABLES.includes(name)) {
    throw new Error(`Tabla desconocida: ${name}`);
  }
}

function reset(seed = {}) {
  tables = emptyTables();
  sequences = {};
  for (const [name, rows] of Object.entries(seed)) {
    assertTable(name);
    tables[name] = structuredClone(rows);
  }
  for (const name of TABLES) {
    sequences[name] = tables[name].reduce((max, row) => Math.max(max, row.id), 0);
  }
}

function rows(name) {
  assertTable(name);
  return tables[name];
}

function nextId(name) {
  assertTable(name);
  sequences[name] = (sequences[name] || 0) + 1;
  return sequences[name];
}

function snapshot() {
  return structuredClone({ tables, sequences });
}

function restore(saved) {
  tables = saved.tables;
  sequences = saved.sequences;
}

reset();

module.exports = { TABLES, reset, rows, nextId, snapshot, restore };
