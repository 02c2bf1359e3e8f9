'use strict';

// Handlers de Express 4 que atenderían `method url`, en orden (middlewares de ruta incluidos).
// Sirve para comprobar convenciones, p. ej. que el handler final está envuelto en asyncHandler:
//   expect(isAsyncHandler(routeHandlers(app, 'GET', '/api/clientes/1').at(-1))).toBe(true)
function routeHandlers(app, method, url) {
  const found = [];
  const verb = method.toLowerCase();
  const walk = (stack, path) => {
    for (const layer of stack) {
      if (found.length || !layer.match(path)) {
        continue;
      }
      if (layer.route) {
        if (layer.route._handles_method(verb)) {
          found.push(...layer.route.stack.filter((inner) => inner.method === verb).map((inner) => inner.handle));
        }
      } else if (layer.name === 'router') {
        walk(layer.handle.stack, path.slice(layer.path.length) || '/');
      }
    }
  };
  walk(app._router.stack, url);
  return found;
}

module.exports = { routeHandlers };
