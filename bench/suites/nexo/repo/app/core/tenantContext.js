'use strict';

const { UnauthorizedError } = require('./errors');

// En producción el gateway valida el JWT y reenvía el tenant en X-Tenant-Id. Todas las rutas
// de /api (salvo /api/health) lo exigen; los controladores lo leen siempre de req.context,
// nunca del body ni de la query.
const TENANT_ID = /^[a-z0-9][a-z0-9-]{1,39}$/;

function tenantContext(req, res, next) {
  const tenantId = (req.get('X-Tenant-Id') || '').trim();
  if (!tenantId) {
    next(new UnauthorizedError());
    return;
  }
  if (!TENANT_ID.test(tenantId)) {
    next(new UnauthorizedError(`Tenant no válido: ${tenantId}`));
    return;
  }
  req.context = Object.freeze({ tenantId, userId: req.get('X-User-Id') || null });
  next();
}

module.exports = tenantContext;
