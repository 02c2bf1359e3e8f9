'use strict';

const express = require('express');
const { errorMiddleware, notFoundRoute } = require('./core/errorMiddleware');
const tenantContext = require('./core/tenantContext');
const clientesRoutes = require('./modules/clientes/routes/clientes.routes');
const contabilidadRoutes = require('./modules/contabilidad/routes/contabilidad.routes');
const posRoutes = require('./modules/pos/routes/pos.routes');

// La app no escucha: server.js la arranca y los tests la usan con supertest.
function createApp() {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '100kb' }));

  app.get('/api/health', (req, res) => res.json({ ok: true }));
  app.use('/api', tenantContext);
  app.use('/api/clientes', clientesRoutes);
  app.use('/api/contabilidad', contabilidadRoutes);
  app.use('/api/pos', posRoutes);

  app.use(notFoundRoute);
  app.use(errorMiddleware);
  return app;
}

module.exports = { createApp };
