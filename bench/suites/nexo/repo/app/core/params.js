'use strict';

const { ValidationError } = require('./errors');

const FECHA = /^\d{4}-\d{2}-\d{2}$/;

// Los ids de la URL llegan como texto: se convierten aquí y un id mal formado es un 400.
function parseId(raw, campo = 'id') {
  const text = String(raw ?? '');
  if (!/^[1-9]\d{0,9}$/.test(text)) {
    throw new ValidationError(`${campo} debe ser un entero positivo`, campo);
  }
  return Number(text);
}

function isFecha(text) {
  if (typeof text !== 'string' || !FECHA.test(text)) {
    return false;
  }
  const date = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === text;
}

// Fechas de negocio como texto YYYY-MM-DD (se comparan como texto).
function parseFecha(raw, campo = 'fecha') {
  if (!isFecha(raw)) {
    throw new ValidationError(`${campo} debe ser una fecha YYYY-MM-DD`, campo);
  }
  return raw;
}

function hoy() {
  return new Date().toISOString().slice(0, 10);
}

module.exports = { parseId, parseFecha, isFecha, hoy };
