'use strict';

const { ValidationError } = require('../../../core/errors');

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const TELEFONO = /^\+?[0-9 ]{9,15}$/;

function texto(body, campo, { min, max }) {
  const value = body[campo];
  if (typeof value !== 'string' || value.trim().length < min || value.trim().length > max) {
    throw new ValidationError(`${campo} es obligatorio (de ${min} a ${max} caracteres)`, campo);
  }
  return value.trim();
}

function validarEmail(value) {
  if (value === undefined || value === null || value === '') {
    return null;
  }
  if (typeof value !== 'string' || !EMAIL.test(value.trim())) {
    throw new ValidationError('email no tiene un formato válido', 'email');
  }
  return value.trim().toLowerCase();
}

function validarTelefono(value) {
  if (value === undefined || value === null || value === '') {
    return null;
  }
  if (typeof value !== 'string' || !TELEFONO.test(value.trim())) {
    throw new ValidationError('telefono debe tener de 9 a 15 dígitos', 'telefono');
  }
  return value.trim();
}

function validarNif(value) {
  if (typeof value !== 'string' || !value.trim()) {
    throw new ValidationError('nif es obligatorio', 'nif');
  }
  return value.trim().toUpperCase();
}

function validarNuevoCliente(body) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError('El cuerpo debe ser un objeto JSON');
  }
  return {
    nombre: texto(body, 'nombre', { min: 2, max: 120 }),
    nif: validarNif(body.nif),
    email: validarEmail(body.email),
    telefono: validarTelefono(body.telefono),
  };
}

module.exports = { validarNuevoCliente, validarNif, validarEmail, validarTelefono };
