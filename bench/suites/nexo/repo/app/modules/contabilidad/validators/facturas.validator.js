'use strict';

const { ValidationError } = require('../../../core/errors');
const { hoy, isFecha, parseFecha } = require('../../../core/params');

const TIPOS_IVA = [0, 4, 10, 21];
const ESTADOS = ['emitida', 'anulada'];

function validarLinea(linea, index) {
  const campo = `lineas[${index}]`;
  if (!linea || typeof linea !== 'object') {
    throw new ValidationError(`${campo} debe ser un objeto`, 'lineas');
  }
  const { descripcion, cantidad, precioUnitario, tipoIva } = linea;
  if (typeof descripcion !== 'string' || !descripcion.trim()) {
    throw new ValidationError(`${campo}.descripcion es obligatoria`, 'lineas');
  }
  if (!Number.isInteger(cantidad) || cantidad <= 0) {
    throw new ValidationError(`${campo}.cantidad debe ser un entero positivo`, 'lineas');
  }
  if (!Number.isInteger(precioUnitario) || precioUnitario < 0) {
    throw new ValidationError(`${campo}.precioUnitario debe ser un entero en céntimos`, 'lineas');
  }
  if (!TIPOS_IVA.includes(tipoIva)) {
    throw new ValidationError(`${campo}.tipoIva debe ser uno de ${TIPOS_IVA.join(', ')}`, 'lineas');
  }
  return { descripcion: descripcion.trim(), cantidad, precioUnitario, tipoIva };
}

function validarNuevaFactura(body) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError('El cuerpo debe ser un objeto JSON');
  }
  if (!Number.isInteger(body.clienteId) || body.clienteId <= 0) {
    throw new ValidationError('clienteId debe ser un entero positivo', 'clienteId');
  }
  if (!Array.isArray(body.lineas) || body.lineas.length === 0) {
    throw new ValidationError('lineas debe tener al menos una línea', 'lineas');
  }
  return {
    clienteId: body.clienteId,
    fecha: body.fecha === undefined ? hoy() : parseFecha(body.fecha),
    lineas: body.lineas.map(validarLinea),
  };
}

function validarFiltros(query) {
  const filtros = {};
  if (query.estado !== undefined) {
    if (!ESTADOS.includes(query.estado)) {
      throw new ValidationError(`estado debe ser uno de ${ESTADOS.join(', ')}`, 'estado');
    }
    filtros.estado = query.estado;
  }
  for (const campo of ['desde', 'hasta']) {
    if (query[campo] !== undefined) {
      if (!isFecha(query[campo])) {
        throw new ValidationError(`${campo} debe ser una fecha YYYY-MM-DD`, campo);
      }
      filtros[campo] = query[campo];
    }
  }
  return filtros;
}

module.exports = { validarNuevaFactura, validarFiltros, TIPOS_IVA, ESTADOS };
