'use strict';

const { api } = require('../tests/helpers/api');
const { resetDatabase } = require('../tests/helpers/fixtures');

beforeEach(resetDatabase);

function factura(lineas) {
  return api().post('/api/contabilidad/facturas').send({ clienteId: 1, fecha: '2025-04-02', lineas });
}

function venta(lineas) {
  return api().post('/api/pos/ventas').send({ fecha: '2025-04-02', metodoPago: 'efectivo', lineas });
}

describe('T01 IVA redondeado half up por línea', () => {
  test('factura: 999 céntimos al 21 % llevan 210 de IVA', async () => {
    const res = await factura([{ descripcion: 'Servicio', cantidad: 1, precioUnitario: 999, tipoIva: 21 }]);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ baseImponible: 999, iva: 210, total: 1209 });
  });

  test('factura: medio céntimo sube (5 céntimos al 10 %)', async () => {
    const res = await factura([{ descripcion: 'Sobre', cantidad: 1, precioUnitario: 5, tipoIva: 10 }]);
    expect(res.body).toMatchObject({ baseImponible: 5, iva: 1, total: 6 });
  });

  test('factura: se redondea cada línea y luego se suma', async () => {
    const res = await factura([
      { descripcion: 'Sobre', cantidad: 1, precioUnitario: 5, tipoIva: 10 },
      { descripcion: 'Caja', cantidad: 3, precioUnitario: 333, tipoIva: 21 },
    ]);
    expect(res.body).toMatchObject({ baseImponible: 1004, iva: 211, total: 1215 });
  });

  test('factura: lo guardado coincide con lo respondido', async () => {
    const creada = await factura([{ descripcion: 'Servicio', cantidad: 1, precioUnitario: 999, tipoIva: 21 }]);
    const leida = await api().get(`/api/contabilidad/facturas/${creada.body.id}`);
    expect(leida.body).toMatchObject({ iva: 210, total: 1209 });
  });

  test('venta: una taza de 499 al 21 % lleva 105 de IVA', async () => {
    const res = await venta([{ productoId: 2, cantidad: 1 }]);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ baseImponible: 499, iva: 105, total: 604 });
  });

  test('venta: varias líneas con tipos distintos', async () => {
    const res = await venta([
      { productoId: 3, cantidad: 1 },
      { productoId: 1, cantidad: 1 },
    ]);
    expect(res.body).toMatchObject({ baseImponible: 3249, iva: 205, total: 3454 });
  });
});
