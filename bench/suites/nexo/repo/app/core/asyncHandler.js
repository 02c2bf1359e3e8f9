'use strict';

// Express 4 no captura los errores de los handlers async: una promesa rechazada deja la
// petición colgada. asyncHandler pasa cualquier error (lanzado o rechazado) a next(), y de
// ahí a errorMiddleware. Todo controlador se exporta envuelto: exports.x = asyncHandler(...).

const WRAPPED = Symbol.for('nexo.asyncHandler');

function asyncHandler(fn) {
  if (typeof fn !== 'function') {
    throw new TypeError('asyncHandler espera una función (req, res, next)');
  }
  const handler = function asyncHandlerWrapper(req, res, next) {
    Promise.resolve()
      .then(() => fn(req, res, next))
      .catch(next);
  };
  handler[WRAPPED] = true;
  return handler;
}

function isAsyncHandler(fn) {
  return typeof fn === 'function' && fn[WRAPPED] === true;
}

module.exports = asyncHandler;
module.exports.asyncHandler = asyncHandler;
module.exports.isAsyncHandler = isAsyncHandler;
