'use strict';

// Errores de la aplicación. Los controladores los lanzan y errorMiddleware los convierte en
// la respuesta JSON { error: { code, message, ...detalles } } con el status HTTP de la clase.

class AppError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.name = this.constructor.name;
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

class ValidationError extends AppError {
  constructor(message, campo) {
    super(400, 'VALIDATION_ERROR', message, campo ? { campo } : {});
  }
}

class UnauthorizedError extends AppError {
  constructor(message = 'Falta la cabecera X-Tenant-Id') {
    super(401, 'UNAUTHORIZED', message);
  }
}

class ForbiddenError extends AppError {
  constructor(message = 'El recurso pertenece a otro tenant') {
    super(403, 'FORBIDDEN', message);
  }
}

class NotFoundError extends AppError {
  constructor(message = 'No encontrado') {
    super(404, 'NOT_FOUND', message);
  }
}

class ConflictError extends AppError {
  constructor(message) {
    super(409, 'CONFLICT', message);
  }
}

module.exports = {
  AppError,
  ValidationError,
  UnauthorizedError,
  ForbiddenError,
  NotFoundError,
  ConflictError,
};
