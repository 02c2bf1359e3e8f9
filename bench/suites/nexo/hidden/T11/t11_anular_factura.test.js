'use strict';

const { isAsyncHandler } = require('../app/core/asyncHandler');
const RLSContextManager = require('../app/core/db/RLSContextManager');
const { hoy } = require('../app/core/params');
const { api } = require('../tests/helpers/api');
const { routeHandlers } = require('../tests/helpers/express');
const { resetDatabase, ACME, GLOBEX } = require('../tests/helpers/fixtures');

beforeEach(resetDatabase);
afterEach(() => jest.restoreAllMocks());

const anular = (id, body, tenant = ACME) => api(tenant).post(`/api/contabilidad/facturas/${id}/anular`).send(body);
const leer = async (id, tenant = ACME) => (await api(tenant).get(`/api/contabilidad/facturas/${id}`)).body;

describe('T11 POST /api/contabilidad/facturas/:id/anular', () => {
  test('200 con la factura anulada: estado, motivo sin espacios y fecha de hoy', async () => {
    const res = await anular(1, { motivo: '  Error en el precio  ' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: 1, numero: 'F-2025-0001', estado: 'anulada', motivoAnulacion: 'Error en el precio', anuladaEn: hoy(), total: 13750,
    });
  });

  test('queda guardada como anulada', async () => {
    await anular(2, { motivo: 'Duplicada por error' });
    expect(await leer(2)).toMatchObject({ estado: 'anulada', motivoAnulacion: 'Duplicada por error' });
    const anuladas = await api().get('/api/contabilidad/facturas?estado=anulada');
    expect(anuladas.body.data.map((factura) => factura.id)).toEqual([2, 3]);
  });

  test('409 si ya está anulada, sin cambiar su motivo', async () => {
    const res = await anular(3, { motivo: 'Segunda anulación' });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('CONFLICT');
    expect((await leer(3)).motivoAnulacion).toBe('Factura duplicada');
  });

  test.each([
    [{}],
    [{ motivo: '  abc  ' }],
    [{ motivo: 12345 }],
    [{ motivo: 'x'.repeat(201) }],
  ])('400 con motivo inválido %j, sin anular', async (body) => {
    const res = await anular(1, body);
    expect(res.status).toBe(400);
    expect(res.body.error.campo).toBe('motivo');
    expect((await leer(1)).estado).toBe('emitida');
  });

  test('403 si es de otro tenant, sin anularla', async () => {
    const res = await anular(1, { motivo: 'Intento ajeno' }, GLOBEX);
    expect(res.status).toBe(403);
    expect((await leer(1)).estado).toBe('emitida');
  });

  test('404 si no existe', async () => {
    expect((await anular(999, { motivo: 'No existe' })).status).toBe(404);
  });

  test('400 si el id no es un entero', async () => {
    expect((await anular('abc', { motivo: 'Id malo' })).status).toBe(400);
  });

  test('anular la factura de una venta libera la venta para volver a facturarla', async () => {
    const factura = await api().post('/api/contabilidad/facturas/desde-venta/3');
    expect((await anular(factura.body.id, { motivo: 'Cliente equivocado' })).status).toBe(200);
    expect((await api().get('/api/pos/ventas/3')).body.facturaId).toBeNull();
    const otra = await api().post('/api/contabilidad/facturas/desde-venta/3');
    expect(otra.status).toBe(201);
    expect(otra.body.id).not.toBe(factura.body.id);
  });

  test('anular una factura sin venta no toca ninguna venta', async () => {
    await anular(1, { motivo: 'Error en el precio' });
    expect((await api().get('/api/pos/ventas/5')).body.facturaId).toBe(1);
  });

  test('patrón: el handler está envuelto en asyncHandler', () => {
    const handlers = routeHandlers(api().app, 'POST', '/api/contabilidad/facturas/1/anular');
    expect(handlers.length).toBeGreaterThan(0);
    expect(isAsyncHandler(handlers[handlers.length - 1])).toBe(true);
  });

  test('patrón: todo pasa por RLSContextManager.query() con el tenant de la petición', async () => {
    const query = jest.spyOn(RLSContextManager, 'query');
    await anular(1, { motivo: 'Error en el precio' });
    expect(query).toHaveBeenCalled();
    expect(query.mock.calls.every(([context]) => context && context.tenantId === ACME)).toBe(true);
  });
});
