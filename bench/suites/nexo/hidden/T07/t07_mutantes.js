'use strict';

// Mutantes de crear() de app/modules/pos/models/ventas.model.js para juzgar los tests de T07.
// Cada uno es la implementación correcta con UN defecto; así no dependen del texto del fichero.

const RLSContextManager = require('../app/core/db/RLSContextManager');
const { ConflictError, ValidationError } = require('../app/core/errors');
const { percentOf } = require('../app/core/money');

function totales(lineas, es) {
  let baseImponible = 0;
  let iva = 0;
  for (const linea of lineas) {
    const importe = linea.cantidad * linea.precioUnitario;
    baseImponible += importe;
    iva += es('iva_truncado') ? Math.floor((importe * linea.tipoIva) / 100) : percentOf(importe, linea.tipoIva);
  }
  return { baseImponible, iva, total: es('total_sin_iva') ? baseImponible : baseImponible + iva };
}

function lineaVendida(tx, { productoId, cantidad }, es) {
  const producto = tx.findById('productos', productoId);
  if (!producto) {
    throw new ValidationError(`El producto ${productoId} no existe`, 'lineas');
  }
  const sinStock = es('stock_justo_da_409') ? producto.stock <= cantidad : producto.stock < cantidad;
  if (sinStock && !es('vende_sin_stock')) {
    throw new ConflictError(`Stock insuficiente de ${producto.sku}: quedan ${producto.stock}`);
  }
  if (!es('no_descuenta_stock')) {
    const vendidas = es('descuenta_una_unidad') ? 1 : cantidad;
    tx.update('productos', producto.id, { stock: producto.stock - vendidas });
  }
  return {
    productoId,
    descripcion: producto.nombre,
    cantidad,
    precioUnitario: producto.precio,
    tipoIva: producto.tipoIva,
  };
}

function crearMutante(nombre) {
  const es = (candidato) => candidato === nombre;
  return async function crear(context, { lineas, metodoPago, clienteId, fecha }) {
    const comprobarCliente = (tx) => {
      if (clienteId !== null && !es('acepta_cliente_de_otro_tenant') && !tx.findById('clientes', clienteId)) {
        throw new ValidationError(`El cliente ${clienteId} no existe`, 'clienteId');
      }
    };
    const registrar = (tx, detalle) => tx.insert('ventas', {
      fecha, metodoPago, clienteId, lineas: detalle, ...totales(detalle, es), facturaId: null,
    });
    if (es('sin_unidad_de_trabajo')) {
      // Cada línea en su propia llamada a query: un 409 en una línea no deshace las anteriores.
      await RLSContextManager.query(context, comprobarCliente);
      const detalle = [];
      for (const linea of lineas) {
        detalle.push(await RLSContextManager.query(context, (tx) => lineaVendida(tx, linea, es)));
      }
      return RLSContextManager.query(context, (tx) => registrar(tx, detalle));
    }
    return RLSContextManager.query(context, (tx) => {
      comprobarCliente(tx);
      return registrar(tx, lineas.map((linea) => lineaVendida(tx, linea, es)));
    });
  };
}

const NOMBRES = [
  'no_descuenta_stock',
  'descuenta_una_unidad',
  'vende_sin_stock',
  'stock_justo_da_409',
  'sin_unidad_de_trabajo',
  'total_sin_iva',
  'iva_truncado',
  'acepta_cliente_de_otro_tenant',
];

module.exports = { crearMutante, NOMBRES };
