'use strict';

const fs = require('fs');
const path = require('path');
const { isAsyncHandler } = require('../app/core/asyncHandler');
const RLSContextManager = require('../app/core/db/RLSContextManager');
const { api } = require('../tests/helpers/api');
const { routeHandlers } = require('../tests/helpers/express');
const { resetDatabase, ACME, GLOBEX } = require('../tests/helpers/fixtures');

const APP_DIR = path.join(__dirname, '..', 'app');

beforeEach(resetDatabase);
afterEach(() => jest.restoreAllMocks());

function sourceFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      return sourceFiles(full);
    }
    return entry.name.endsWith('.js') ? [full] : [];
  });
}

describe('T03 GET /api/pos/ventas/:id respeta el tenant', () => {
  test('200 con una venta propia', async () => {
    const res = await api(ACME).get('/api/pos/ventas/2');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: 2, total: 1811, metodoPago: 'tarjeta' });
  });

  test('403 si la venta es de otro tenant, sin revelar nada de ella', async () => {
    const res = await api(GLOBEX).get('/api/pos/ventas/2');
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('FORBIDDEN');
    expect(JSON.stringify(res.body)).not.toMatch(/1811|tarjeta|Taza/);
  });

  test('403 también en sentido contrario', async () => {
    const res = await api(ACME).get('/api/pos/ventas/4');
    expect(res.status).toBe(403);
    expect(res.body.lineas).toBeUndefined();
  });

  test('404 si no existe en ningún tenant', async () => {
    const res = await api(ACME).get('/api/pos/ventas/999');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
  });

  test('400 si el id no es un entero', async () => {
    expect((await api(ACME).get('/api/pos/ventas/abc')).status).toBe(400);
  });

  test('patrón: la venta se lee con RLSContextManager.query() y el tenant de la petición', async () => {
    const query = jest.spyOn(RLSContextManager, 'query');
    await api(GLOBEX).get('/api/pos/ventas/4');
    expect(query).toHaveBeenCalled();
    expect(query.mock.calls.every(([context]) => context && context.tenantId === GLOBEX)).toBe(true);
  });

  test('patrón: ningún módulo fuera de RLSContextManager requiere el almacén', () => {
    const offenders = sourceFiles(APP_DIR)
      .filter((file) => !file.endsWith(path.join('core', 'db', 'RLSContextManager.js')))
      .filter((file) => /require\([^)]*db\/store['"]\)/.test(fs.readFileSync(file, 'utf8')))
      .map((file) => path.relative(APP_DIR, file));
    expect(offenders).toEqual([]);
  });

  test('patrón: el handler está envuelto en asyncHandler', () => {
    const handlers = routeHandlers(api().app, 'GET', '/api/pos/ventas/2');
    expect(isAsyncHandler(handlers[handlers.length - 1])).toBe(true);
  });
});
