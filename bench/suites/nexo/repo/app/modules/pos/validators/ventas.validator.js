'use strict';

const { ValidationError } = require('../../../core/errors');
const { hoy, parseFecha } = require('../../../core/params');

const METODOS_PAGO = ['efectivo', 'tarjeta'];

function validarLinea(linea, index) {
  if (!linea || !Number.isInteger(linea.productoId) || linea.productoId <= 0) {
    throw new ValidationError(`lineas[${index}].productoId debe ser un entero positivo`, 'lineas');
  }
  if (!Number.isInteger(linea.cantidad) || linea.cantidad <= 0) {
    throw new ValidationError(`lineas[${index}].cantidad debe ser un entero positivo`, 'lineas');
  }
  return { productoId: linea.productoId, cantidad: linea.cantidad };
}

function validarNuevaVenta(body) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError('El cuerpo debe ser un objeto JSON');
  }
  if (!Array.isArray(body.lineas) || body.lineas.length === 0) {
    throw new ValidationError('lineas debe tener al menos una línea', 'lineas');
  }
  if (!METODOS_PAGO.includes(body.metodoPago)) {
    throw new ValidationError(`metodoPago debe ser uno de ${METODOS_PAGO.join(', ')}`, 'metodoPago');
  }
  const clienteId = body.clienteId ?? null;
  if (clienteId !== null && (!Number.isInteger(clienteId) || clienteId <= 0)) {
    throw new ValidationError('clienteId debe ser un entero positivo', 'clienteId');
  }
  return {
    lineas: body.lineas.map(validarLinea),
    metodoPago: body.metodoPago,
    clienteId,
    fecha: body.fecha === undefined ? hoy() : parseFecha(body.fecha),
  };
}

module.exports = { validarNuevaVenta, METODOS_PAGO };
