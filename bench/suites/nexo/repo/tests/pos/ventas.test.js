'use strict';

const { api } = require('../helpers/api');
const { resetDatabase } = require('../helpers/fixtures');

beforeEach(resetDatabase);

describe('POST /api/pos/ventas', () => {
  test('201 con la venta y sus totales', async () => {
    const res = await api().post('/api/pos/ventas').send({
      fecha: '2025-03-06',
      metodoPago: 'efectivo',
      lineas: [{ productoId: 1, cantidad: 2 }],
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ fecha: '2025-03-06', baseImponible: 2500, iva: 250, total: 2750 });
  });

  test('400 con un método de pago desconocido', async () => {
    const res = await api().post('/api/pos/ventas').send({ metodoPago: 'bizum', lineas: [{ productoId: 1, cantidad: 1 }] });
    expect(res.status).toBe(400);
    expect(res.body.error.campo).toBe('metodoPago');
  });
});

describe('GET /api/pos/ventas', () => {
  test('lista las ventas del tenant de un día', async () => {
    const res = await api().get('/api/pos/ventas?fecha=2025-03-03');
    expect(res.status).toBe(200);
    expect(res.body.data.map((venta) => venta.id)).toEqual([1, 2]);
  });
});

describe('GET /api/pos/ventas/:id', () => {
  test('200 con la venta', async () => {
    const res = await api().get('/api/pos/ventas/2');
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(1811);
  });
});

describe('GET /api/pos/productos', () => {
  test('lista los productos del tenant con su stock', async () => {
    const res = await api().get('/api/pos/productos');
    expect(res.body.data.map((producto) => [producto.sku, producto.stock])).toEqual([
      ['CAF-001', 40],
      ['TAZ-002', 15],
      ['LIB-003', 5],
    ]);
  });
});
