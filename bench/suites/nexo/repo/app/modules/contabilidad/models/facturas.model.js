'use strict';

const RLSContextManager = require('../../../core/db/RLSContextManager');
const { ValidationError } = require('../../../core/errors');
const { findForTenant } = require('../../../core/tenantAccess');

const TABLE = 'facturas';

function calcularTotales(lineas) {
  let baseImponible = 0;
  let iva = 0;
  for (const linea of lineas) {
    const importe = linea.cantidad * linea.precioUnitario;
    baseImponible += importe;
    iva += Math.floor((importe * linea.tipoIva) / 100);
  }
  return { baseImponible, iva, total: baseImponible + iva };
}

// Numeración correlativa por tenant y año: F-2025-0001, F-2025-0002...
function siguienteNumero(tx, fecha) {
  const prefijo = `F-${fecha.slice(0, 4)}-`;
  const usados = tx.find(TABLE).filter((factura) => factura.numero.startsWith(prefijo)).length;
  return `${prefijo}${String(usados + 1).padStart(4, '0')}`;
}

async function listar(context, { estado, desde, hasta } = {}) {
  const facturas = await RLSContextManager.query(context, (tx) => tx.find(TABLE, estado ? { estado } : {}));
  return facturas.filter((factura) => (!desde || factura.fecha >= desde) && (!hasta || factura.fecha < hasta));
}

async function obtener(context, id) {
  return findForTenant(context, TABLE, id, 'Factura');
}

async function crear(context, { clienteId, fecha, lineas }) {
  return RLSContextManager.query(context, (tx) => {
    if (!tx.findById('clientes', clienteId)) {
      throw new ValidationError(`El cliente ${clienteId} no existe`, 'clienteId');
    }
    return tx.insert(TABLE, {
      numero: siguienteNumero(tx, fecha),
      clienteId,
      fecha,
      estado: 'emitida',
      lineas,
      ...calcularTotales(lineas),
    });
  });
}

module.exports = { listar, obtener, crear, calcularTotales };
