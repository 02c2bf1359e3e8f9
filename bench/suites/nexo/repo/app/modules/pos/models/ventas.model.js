'use strict';

const RLSContextManager = require('../../../core/db/RLSContextManager');
const { ConflictError, ValidationError } = require('../../../core/errors');

const TABLE = 'ventas';

function calcularTotales(lineas) {
  let baseImponible = 0;
  let iva = 0;
  for (const linea of lineas) {
    const importe = linea.cantidad * linea.precioUnitario;
    baseImponible += importe;
    iva += Math.floor((importe * linea.tipoIva) / 100);
  }
  return { baseImponible, iva, total: baseImponible + iva };
}

// Descuenta el stock línea a línea dentro de la misma unidad de trabajo: si una línea no
// tiene stock, el ConflictError deshace también lo descontado por las anteriores.
function descontarStock(tx, lineas) {
  return lineas.map(({ productoId, cantidad }) => {
    const producto = tx.findById('productos', productoId);
    if (!producto) {
      throw new ValidationError(`El producto ${productoId} no existe`, 'lineas');
    }
    if (producto.stock < cantidad) {
      throw new ConflictError(`Stock insuficiente de ${producto.sku}: quedan ${producto.stock}`);
    }
    tx.update('productos', producto.id, { stock: producto.stock - cantidad });
    return {
      productoId,
      descripcion: producto.nombre,
      cantidad,
      precioUnitario: producto.precio,
      tipoIva: producto.tipoIva,
    };
  });
}

async function crear(context, { lineas, metodoPago, clienteId, fecha }) {
  return RLSContextManager.query(context, (tx) => {
    if (clienteId !== null && !tx.findById('clientes', clienteId)) {
      throw new ValidationError(`El cliente ${clienteId} no existe`, 'clienteId');
    }
    const detalle = descontarStock(tx, lineas);
    return tx.insert(TABLE, {
      fecha,
      metodoPago,
      clienteId,
      lineas: detalle,
      ...calcularTotales(detalle),
      facturaId: null,
    });
  });
}

async function listar(context, { fecha } = {}) {
  return RLSContextManager.query(context, (tx) => tx.find(TABLE, fecha ? { fecha } : {}));
}

module.exports = { crear, listar, calcularTotales };
