'use strict';

const { isAsyncHandler } = require('../app/core/asyncHandler');
const RLSContextManager = require('../app/core/db/RLSContextManager');
const { api } = require('../tests/helpers/api');
const { routeHandlers } = require('../tests/helpers/express');
const { resetDatabase, ACME, GLOBEX } = require('../tests/helpers/fixtures');

beforeEach(resetDatabase);
afterEach(() => jest.restoreAllMocks());

const ids = (res) => res.body.data.map((factura) => factura.id);

function facturaPara(clienteId, fecha) {
  return api().post('/api/contabilidad/facturas').send({
    clienteId,
    fecha,
    lineas: [{ descripcion: 'Taza cerámica', cantidad: 1, precioUnitario: 499, tipoIva: 21 }],
  });
}

describe('T08 GET /api/clientes/:id/facturas', () => {
  test('200 con las facturas del cliente, en { data }', async () => {
    const res = await api().get('/api/clientes/1/facturas');
    expect(res.status).toBe(200);
    expect(ids(res)).toEqual([1, 3]);
    expect(res.body.data[0]).toMatchObject({ numero: 'F-2025-0001', clienteId: 1, total: 13750 });
  });

  test('solo las del cliente pedido', async () => {
    expect(ids(await api().get('/api/clientes/2/facturas'))).toEqual([2]);
  });

  test('ordenadas por fecha ascendente', async () => {
    const anterior = await facturaPara(1, '2025-01-20');
    const posterior = await facturaPara(1, '2025-03-20');
    expect(ids(await api().get('/api/clientes/1/facturas'))).toEqual([anterior.body.id, 1, posterior.body.id, 3]);
  });

  test('lista vacía para un cliente sin facturas', async () => {
    const nuevo = await api().post('/api/clientes').send({ nombre: 'Sin facturas', nif: '87654321X' });
    const res = await api().get(`/api/clientes/${nuevo.body.id}/facturas`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: [] });
  });

  test('filtra por estado', async () => {
    expect(ids(await api().get('/api/clientes/1/facturas?estado=emitida'))).toEqual([1]);
    expect(ids(await api().get('/api/clientes/1/facturas?estado=anulada'))).toEqual([3]);
  });

  test('400 con un estado desconocido', async () => {
    const res = await api().get('/api/clientes/1/facturas?estado=pagada');
    expect(res.status).toBe(400);
    expect(res.body.error.campo).toBe('estado');
  });

  test('cada tenant ve las de sus clientes', async () => {
    expect(ids(await api(GLOBEX).get('/api/clientes/3/facturas'))).toEqual([4]);
  });

  test('403 si el cliente es de otro tenant', async () => {
    const res = await api(GLOBEX).get('/api/clientes/1/facturas');
    expect(res.status).toBe(403);
    expect(res.body.data).toBeUndefined();
  });

  test('404 si el cliente no existe', async () => {
    expect((await api().get('/api/clientes/999/facturas')).status).toBe(404);
  });

  test('400 si el id no es un entero', async () => {
    expect((await api().get('/api/clientes/abc/facturas')).status).toBe(400);
  });

  test('patrón: el handler está envuelto en asyncHandler', () => {
    const handlers = routeHandlers(api().app, 'GET', '/api/clientes/1/facturas');
    expect(handlers.length).toBeGreaterThan(0);
    expect(isAsyncHandler(handlers[handlers.length - 1])).toBe(true);
  });

  test('patrón: los datos se leen con RLSContextManager.query() y el tenant de la petición', async () => {
    const query = jest.spyOn(RLSContextManager, 'query');
    await api(ACME).get('/api/clientes/1/facturas');
    expect(query).toHaveBeenCalled();
    expect(query.mock.calls.every(([context]) => context && context.tenantId === ACME)).toBe(true);
  });
});
