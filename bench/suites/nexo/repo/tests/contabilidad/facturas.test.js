'use strict';

const { api } = require('../helpers/api');
const { resetDatabase, GLOBEX } = require('../helpers/fixtures');

beforeEach(resetDatabase);

describe('GET /api/contabilidad/facturas', () => {
  test('lista las facturas del tenant', async () => {
    const res = await api().get('/api/contabilidad/facturas');
    expect(res.status).toBe(200);
    expect(res.body.data.map((factura) => factura.numero)).toEqual(['F-2025-0001', 'F-2025-0002', 'F-2025-0003']);
  });

  test('filtra por estado', async () => {
    const res = await api().get('/api/contabilidad/facturas?estado=anulada');
    expect(res.body.data.map((factura) => factura.id)).toEqual([3]);
  });

  test('filtra desde una fecha', async () => {
    const res = await api().get('/api/contabilidad/facturas?desde=2025-03-10');
    expect(res.body.data.map((factura) => factura.id)).toEqual([2, 3]);
  });

  test('400 con un estado desconocido', async () => {
    const res = await api().get('/api/contabilidad/facturas?estado=pagada');
    expect(res.status).toBe(400);
  });
});

describe('GET /api/contabilidad/facturas/:id', () => {
  test('200 con la factura', async () => {
    const res = await api().get('/api/contabilidad/facturas/1');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ numero: 'F-2025-0001', total: 13750 });
  });

  test('404 si no existe', async () => {
    expect((await api().get('/api/contabilidad/facturas/999')).status).toBe(404);
  });

  test('403 si es de otro tenant', async () => {
    expect((await api(GLOBEX).get('/api/contabilidad/facturas/1')).status).toBe(403);
  });
});

describe('POST /api/contabilidad/facturas', () => {
  test('201 con número correlativo y totales', async () => {
    const res = await api().post('/api/contabilidad/facturas').send({
      clienteId: 2,
      fecha: '2025-04-01',
      lineas: [{ descripcion: 'Café molido 1kg', cantidad: 2, precioUnitario: 1250, tipoIva: 10 }],
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ numero: 'F-2025-0004', estado: 'emitida', baseImponible: 2500, iva: 250, total: 2750 });
  });

  test('400 sin líneas', async () => {
    const res = await api().post('/api/contabilidad/facturas').send({ clienteId: 2, lineas: [] });
    expect(res.status).toBe(400);
    expect(res.body.error.campo).toBe('lineas');
  });

  test('400 con un cliente de otro tenant', async () => {
    const res = await api().post('/api/contabilidad/facturas').send({
      clienteId: 3,
      lineas: [{ descripcion: 'X', cantidad: 1, precioUnitario: 100, tipoIva: 21 }],
    });
    expect(res.status).toBe(400);
    expect(res.body.error.campo).toBe('clienteId');
  });
});
