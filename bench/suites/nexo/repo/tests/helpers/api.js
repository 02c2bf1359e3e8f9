'use strict';

const request = require('supertest');
const { createApp } = require('../../app/app');
const { ACME } = require('./fixtures');

// api('globex').get('/api/clientes'): peticiones supertest con la cabecera del tenant puesta.
function api(tenantId = ACME) {
  const app = createApp();
  const withTenant = (test) => (tenantId ? test.set('X-Tenant-Id', tenantId) : test);
  return {
    app,
    get: (url) => withTenant(request(app).get(url)),
    post: (url) => withTenant(request(app).post(url)),
    patch: (url) => withTenant(request(app).patch(url)),
    put: (url) => withTenant(request(app).put(url)),
    delete: (url) => withTenant(request(app).delete(url)),
  };
}

module.exports = { api };
