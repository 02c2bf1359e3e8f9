'use strict';

const RLSContextManager = require('../../app/core/db/RLSContextManager');

// Datos de prueba: dos tenants (acme y globex) con ids globales, como en PostgreSQL.
const ACME = 'acme';
const GLOBEX = 'globex';

function seedData() {
  return {
    clientes: [
      { id: 1, tenantId: ACME, nombre: 'Ferretería López', nif: '12345678Z', email: 'compras@ferreteria-lopez.es', telefono: '911234567', creadoEn: '2025-01-10' },
      { id: 2, tenantId: ACME, nombre: 'Bar Central', nif: 'B12345674', email: null, telefono: null, creadoEn: '2025-01-12' },
      { id: 3, tenantId: GLOBEX, nombre: 'Globex Ibérica', nif: 'A58818501', email: 'admin@globex.es', telefono: null, creadoEn: '2025-02-01' },
      { id: 4, tenantId: GLOBEX, nombre: 'Juan López', nif: '12345678Z', email: null, telefono: '600111222', creadoEn: '2025-02-03' },
    ],
    productos: [
      { id: 1, tenantId: ACME, sku: 'CAF-001', nombre: 'Café molido 1kg', precio: 1250, tipoIva: 10, stock: 40 },
      { id: 2, tenantId: ACME, sku: 'TAZ-002', nombre: 'Taza cerámica', precio: 499, tipoIva: 21, stock: 15 },
      { id: 3, tenantId: ACME, sku: 'LIB-003', nombre: 'Libro de recetas', precio: 1999, tipoIva: 4, stock: 5 },
      { id: 4, tenantId: GLOBEX, sku: 'CAF-001', nombre: 'Café en grano', precio: 1400, tipoIva: 10, stock: 20 },
    ],
    facturas: [
      {
        id: 1, tenantId: ACME, numero: 'F-2025-0001', clienteId: 1, fecha: '2025-03-03', estado: 'emitida',
        lineas: [{ descripcion: 'Café molido 1kg', cantidad: 10, precioUnitario: 1250, tipoIva: 10 }],
        baseImponible: 12500, iva: 1250, total: 13750,
      },
      {
        id: 2, tenantId: ACME, numero: 'F-2025-0002', clienteId: 2, fecha: '2025-03-15', estado: 'emitida',
        lineas: [{ descripcion: 'Taza cerámica', cantidad: 4, precioUnitario: 499, tipoIva: 21 }],
        baseImponible: 1996, iva: 419, total: 2415,
      },
      {
        id: 3, tenantId: ACME, numero: 'F-2025-0003', clienteId: 1, fecha: '2025-03-31', estado: 'anulada',
        lineas: [{ descripcion: 'Libro de recetas', cantidad: 1, precioUnitario: 1999, tipoIva: 4 }],
        baseImponible: 1999, iva: 80, total: 2079, motivoAnulacion: 'Factura duplicada',
      },
      {
        id: 4, tenantId: GLOBEX, numero: 'F-2025-0001', clienteId: 3, fecha: '2025-03-10', estado: 'emitida',
        lineas: [{ descripcion: 'Café en grano', cantidad: 5, precioUnitario: 1400, tipoIva: 10 }],
        baseImponible: 7000, iva: 700, total: 7700,
      },
    ],
    ventas: [
      {
        id: 1, tenantId: ACME, fecha: '2025-03-03', metodoPago: 'efectivo', clienteId: null,
        lineas: [{ productoId: 1, descripcion: 'Café molido 1kg', cantidad: 2, precioUnitario: 1250, tipoIva: 10 }],
        baseImponible: 2500, iva: 250, total: 2750, facturaId: null,
      },
      {
        id: 2, tenantId: ACME, fecha: '2025-03-03', metodoPago: 'tarjeta', clienteId: 1,
        lineas: [{ productoId: 2, descripcion: 'Taza cerámica', cantidad: 3, precioUnitario: 499, tipoIva: 21 }],
        baseImponible: 1497, iva: 314, total: 1811, facturaId: null,
      },
      {
        id: 3, tenantId: ACME, fecha: '2025-03-04', metodoPago: 'tarjeta', clienteId: 2,
        lineas: [{ productoId: 3, descripcion: 'Libro de recetas', cantidad: 1, precioUnitario: 1999, tipoIva: 4 }],
        baseImponible: 1999, iva: 80, total: 2079, facturaId: null,
      },
      {
        id: 4, tenantId: GLOBEX, fecha: '2025-03-03', metodoPago: 'efectivo', clienteId: 3,
        lineas: [{ productoId: 4, descripcion: 'Café en grano', cantidad: 1, precioUnitario: 1400, tipoIva: 10 }],
        baseImponible: 1400, iva: 140, total: 1540, facturaId: 4,
      },
      {
        id: 5, tenantId: ACME, fecha: '2025-03-05', metodoPago: 'efectivo', clienteId: 1,
        lineas: [{ productoId: 1, descripcion: 'Café molido 1kg', cantidad: 10, precioUnitario: 1250, tipoIva: 10 }],
        baseImponible: 12500, iva: 1250, total: 13750, facturaId: 1,
      },
    ],
  };
}

function resetDatabase() {
  RLSContextManager.reset(seedData());
}

module.exports = { ACME, GLOBEX, seedData, resetDatabase };
