'use strict';

const { isAsyncHandler } = require('../app/core/asyncHandler');
const RLSContextManager = require('../app/core/db/RLSContextManager');
const { api } = require('../tests/helpers/api');
const { routeHandlers } = require('../tests/helpers/express');
const { resetDatabase, ACME, GLOBEX } = require('../tests/helpers/fixtures');

beforeEach(resetDatabase);
afterEach(() => jest.restoreAllMocks());

const resumen = (fecha, tenant = ACME) => api(tenant).get(`/api/pos/ventas/resumen${fecha === undefined ? '' : `?fecha=${fecha}`}`);

describe('T10 GET /api/pos/ventas/resumen', () => {
  test('200 con el resumen exacto del día', async () => {
    const res = await resumen('2025-03-03');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      fecha: '2025-03-03',
      numeroVentas: 2,
      baseImponible: 3997,
      iva: 564,
      total: 4561,
      porMetodoPago: { efectivo: 2750, tarjeta: 1811 },
    });
  });

  test('solo ese día', async () => {
    const res = await resumen('2025-03-04');
    expect(res.body).toEqual({
      fecha: '2025-03-04',
      numeroVentas: 1,
      baseImponible: 1999,
      iva: 80,
      total: 2079,
      porMetodoPago: { efectivo: 0, tarjeta: 2079 },
    });
  });

  test('un día sin ventas: ceros y los dos métodos de pago', async () => {
    expect((await resumen('2025-01-01')).body).toEqual({
      fecha: '2025-01-01',
      numeroVentas: 0,
      baseImponible: 0,
      iva: 0,
      total: 0,
      porMetodoPago: { efectivo: 0, tarjeta: 0 },
    });
  });

  test('incluye las ventas nuevas', async () => {
    await api().post('/api/pos/ventas').send({ fecha: '2025-03-03', metodoPago: 'efectivo', lineas: [{ productoId: 2, cantidad: 1 }] });
    expect((await resumen('2025-03-03')).body).toMatchObject({ numeroVentas: 3, total: 5165, porMetodoPago: { efectivo: 3354, tarjeta: 1811 } });
  });

  test('cada tenant ve solo sus ventas', async () => {
    expect((await resumen('2025-03-03', GLOBEX)).body).toMatchObject({
      numeroVentas: 1, total: 1540, porMetodoPago: { efectivo: 1540, tarjeta: 0 },
    });
  });

  test('400 sin fecha', async () => {
    const res = await resumen();
    expect(res.status).toBe(400);
    expect(res.body.error.campo).toBe('fecha');
  });

  test('400 con una fecha inválida', async () => {
    expect((await resumen('2025-02-30')).status).toBe(400);
    expect((await resumen('03-03-2025')).status).toBe(400);
  });

  test('GET /api/pos/ventas/:id sigue funcionando', async () => {
    expect((await api().get('/api/pos/ventas/2')).body.total).toBe(1811);
  });

  test('patrón: el handler está envuelto en asyncHandler', () => {
    const handlers = routeHandlers(api().app, 'GET', '/api/pos/ventas/resumen');
    expect(handlers.length).toBeGreaterThan(0);
    expect(isAsyncHandler(handlers[handlers.length - 1])).toBe(true);
  });

  test('patrón: los datos se leen con RLSContextManager.query() y el tenant de la petición', async () => {
    const query = jest.spyOn(RLSContextManager, 'query');
    await resumen('2025-03-03', GLOBEX);
    expect(query).toHaveBeenCalled();
    expect(query.mock.calls.every(([context]) => context && context.tenantId === GLOBEX)).toBe(true);
  });
});
