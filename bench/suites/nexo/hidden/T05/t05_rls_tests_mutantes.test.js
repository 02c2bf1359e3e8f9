'use strict';

// T05: los tests de tests/core/RLSContextManager.test.js se juzgan con mutantes de
// app/core/db/RLSContextManager.js: cada uno rompe una garantía del aislamiento por tenant.

const { runMutants, mutateSource, expectPasanConElCodigoReal, expectDetectanElMutante } = require('./mutantes_runner');

const TARGET = 'app/core/db/RLSContextManager.js';
const TEST_FILE = 'tests/core/RLSContextManager.test.js';

const MUTANTES = {
  find_ve_otros_tenants: [[
    'return this.visible(table)\n      .filter((row) => Object.entries(filter)',
    'return store.rows(table)\n      .filter((row) => Object.entries(filter)',
  ]],
  find_ignora_el_filtro: [[
    '.filter((row) => Object.entries(filter).every(([field, value]) => row[field] === value))',
    '.filter(() => true)',
  ]],
  find_devuelve_las_filas_del_almacen: [[
    '.map((row) => structuredClone(row));',
    '.map((row) => row);',
  ]],
  insert_acepta_otro_tenant: [
    ['if (values.tenantId !== undefined && values.tenantId !== this.tenantId) {', 'if (false) {'],
    ['id: store.nextId(table), tenantId: this.tenantId };', 'id: store.nextId(table), tenantId: values.tenantId || this.tenantId };'],
  ],
  update_modifica_otros_tenants: [[
    'const row = this.visible(table).find((candidate) => candidate.id === Number(id));',
    'const row = store.rows(table).find((candidate) => candidate.id === Number(id));',
  ]],
  update_permite_cambiar_el_tenant: [[
    "if ('id' in changes || 'tenantId' in changes) {",
    "if ('id' in changes) {",
  ]],
  remove_borra_de_otros_tenants: [[
    'row.id === Number(id) && row.tenantId === this.tenantId',
    'row.id === Number(id)',
  ]],
  query_sin_tenant_no_falla: [[
    'if (!tenantId) {\n      throw',
    'if (false) {\n      throw',
  ]],
  error_no_deshace_los_cambios: [[
    '      store.restore(saved);\n',
    '',
  ]],
  ownerOf_no_encuentra_nada: [[
    'return row ? row.tenantId : null;',
    'return null;',
  ]],
};

jest.setTimeout(300000);

let results;

beforeAll(() => {
  const mutants = Object.fromEntries(
    Object.entries(MUTANTES).map(([name, replacements]) => [name, mutateSource(TARGET, replacements)]));
  results = runMutants({ id: 't05', target: TARGET, testFile: TEST_FILE, mutants });
});

test('los tests pasan con el código real', () => expectPasanConElCodigoReal(results, 8));

test.each(Object.keys(MUTANTES))('los tests detectan el mutante %s', (nombre) => expectDetectanElMutante(results, nombre));
