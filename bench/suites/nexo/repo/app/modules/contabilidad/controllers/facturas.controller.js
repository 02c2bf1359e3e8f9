'use strict';

const asyncHandler = require('../../../core/asyncHandler');
const { parseId } = require('../../../core/params');
const facturasModel = require('../models/facturas.model');
const { validarNuevaFactura, validarFiltros } = require('../validators/facturas.validator');

exports.listar = asyncHandler(async (req, res) => {
  const facturas = await facturasModel.listar(req.context, validarFiltros(req.query));
  res.json({ data: facturas });
});

exports.obtener = asyncHandler(async (req, res) => {
  const factura = await facturasModel.obtener(req.context, parseId(req.params.id));
  res.json(factura);
});

exports.crear = asyncHandler(async (req, res) => {
  const factura = await facturasModel.crear(req.context, validarNuevaFactura(req.body));
  res.status(201).json(factura);
});
