'use strict';

const fs = require('fs');
const path = require('path');
const { api } = require('../tests/helpers/api');
const { resetDatabase } = require('../tests/helpers/fixtures');

const ROOT = path.join(__dirname, '..');
const MODELS = ['app/modules/contabilidad/models/facturas.model.js', 'app/modules/pos/models/ventas.model.js'];

beforeEach(resetDatabase);

describe('T06 app/core/totales.js', () => {
  const { calcularTotales } = require('../app/core/totales');

  test('sin líneas todo es cero', () => {
    expect(calcularTotales([])).toEqual({ baseImponible: 0, iva: 0, total: 0 });
  });

  test('IVA redondeado half up por línea y sumado', () => {
    expect(calcularTotales([
      { cantidad: 1, precioUnitario: 5, tipoIva: 10 },
      { cantidad: 3, precioUnitario: 333, tipoIva: 21 },
      { cantidad: 2, precioUnitario: 1999, tipoIva: 4 },
      { cantidad: 7, precioUnitario: 100, tipoIva: 0 },
    ])).toEqual({ baseImponible: 5702, iva: 371, total: 6073 });
  });

  test('no modifica las líneas que recibe', () => {
    const lineas = [{ descripcion: 'A', cantidad: 2, precioUnitario: 499, tipoIva: 21 }];
    const copia = structuredClone(lineas);
    calcularTotales(lineas);
    expect(lineas).toEqual(copia);
  });
});

describe('T06 una sola implementación', () => {
  test.each(MODELS)('%s usa core/totales y no tiene copia propia', (model) => {
    const source = fs.readFileSync(path.join(ROOT, model), 'utf8');
    expect(source).toMatch(/require\(['"](\.\.\/)+core\/totales(\.js)?['"]\)/);
    expect(source).not.toMatch(/function\s+calcularTotales|calcularTotales\s*=\s*(\(|function|async)/);
    expect(source).not.toMatch(/percentOf|Math\.(floor|round)/);
  });

  test.each(MODELS)('%s ya no exporta calcularTotales', (model) => {
    expect(require(path.join(ROOT, model)).calcularTotales).toBeUndefined();
  });
});

describe('T06 sin cambios de comportamiento', () => {
  test('factura: mismos totales que antes', async () => {
    const res = await api().post('/api/contabilidad/facturas').send({
      clienteId: 1,
      fecha: '2025-04-02',
      lineas: [
        { descripcion: 'Sobre', cantidad: 1, precioUnitario: 5, tipoIva: 10 },
        { descripcion: 'Caja', cantidad: 3, precioUnitario: 333, tipoIva: 21 },
      ],
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ baseImponible: 1004, iva: 211, total: 1215 });
  });

  test('venta: mismos totales que antes', async () => {
    const res = await api().post('/api/pos/ventas').send({
      fecha: '2025-04-02',
      metodoPago: 'tarjeta',
      lineas: [{ productoId: 2, cantidad: 1 }, { productoId: 3, cantidad: 1 }],
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ baseImponible: 2498, iva: 185, total: 2683 });
  });
});
