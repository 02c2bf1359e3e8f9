'use strict';

const { isAsyncHandler } = require('../app/core/asyncHandler');
const RLSContextManager = require('../app/core/db/RLSContextManager');
const { api } = require('../tests/helpers/api');
const { routeHandlers } = require('../tests/helpers/express');
const { resetDatabase, ACME, GLOBEX } = require('../tests/helpers/fixtures');

beforeEach(resetDatabase);
afterEach(() => jest.restoreAllMocks());

const facturar = (ventaId, tenant = ACME) => api(tenant).post(`/api/contabilidad/facturas/desde-venta/${ventaId}`);
const numeroDeFacturas = async (tenant = ACME) => (await api(tenant).get('/api/contabilidad/facturas')).body.data.length;

describe('T09 POST /api/contabilidad/facturas/desde-venta/:ventaId', () => {
  test('201 con la factura de la venta: cliente, fecha, líneas y totales de la venta', async () => {
    const res = await facturar(2);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      numero: 'F-2025-0004',
      clienteId: 1,
      fecha: '2025-03-03',
      estado: 'emitida',
      ventaId: 2,
      baseImponible: 1497,
      iva: 314,
      total: 1811,
      tenantId: ACME,
    });
    expect(res.body.lineas).toEqual([{ descripcion: 'Taza cerámica', cantidad: 3, precioUnitario: 499, tipoIva: 21 }]);
  });

  test('la factura queda guardada y la venta apunta a ella', async () => {
    const factura = await facturar(3);
    const leida = await api().get(`/api/contabilidad/facturas/${factura.body.id}`);
    expect(leida.status).toBe(200);
    expect(leida.body).toMatchObject({ ventaId: 3, clienteId: 2, total: 2079 });
    expect((await api().get('/api/pos/ventas/3')).body.facturaId).toBe(factura.body.id);
  });

  test('409 al facturar dos veces la misma venta, sin crear otra factura', async () => {
    await facturar(2);
    const antes = await numeroDeFacturas();
    const res = await facturar(2);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('CONFLICT');
    expect(await numeroDeFacturas()).toBe(antes);
  });

  test('409 con una venta que ya venía facturada', async () => {
    expect((await facturar(5)).status).toBe(409);
  });

  test('400 si la venta no tiene cliente, sin crear factura', async () => {
    const antes = await numeroDeFacturas();
    const res = await facturar(1);
    expect(res.status).toBe(400);
    expect(res.body.error.campo).toBe('clienteId');
    expect(await numeroDeFacturas()).toBe(antes);
    expect((await api().get('/api/pos/ventas/1')).body.facturaId).toBeNull();
  });

  test('403 si la venta es de otro tenant, y no se toca', async () => {
    const res = await facturar(2, GLOBEX);
    expect(res.status).toBe(403);
    expect(await numeroDeFacturas(GLOBEX)).toBe(1);
    expect((await api().get('/api/pos/ventas/2')).body.facturaId).toBeNull();
  });

  test('404 si la venta no existe', async () => {
    expect((await facturar(999)).status).toBe(404);
  });

  test('400 si el id de la venta no es un entero', async () => {
    expect((await facturar('abc')).status).toBe(400);
  });

  test('numeración correlativa por tenant', async () => {
    await facturar(2);
    expect((await facturar(3)).body.numero).toBe('F-2025-0005');
  });

  test('patrón: el handler está envuelto en asyncHandler', () => {
    const handlers = routeHandlers(api().app, 'POST', '/api/contabilidad/facturas/desde-venta/2');
    expect(handlers.length).toBeGreaterThan(0);
    expect(isAsyncHandler(handlers[handlers.length - 1])).toBe(true);
  });

  test('patrón: todo pasa por RLSContextManager.query() con el tenant de la petición', async () => {
    const query = jest.spyOn(RLSContextManager, 'query');
    await facturar(2);
    expect(query).toHaveBeenCalled();
    expect(query.mock.calls.every(([context]) => context && context.tenantId === ACME)).toBe(true);
  });
});
