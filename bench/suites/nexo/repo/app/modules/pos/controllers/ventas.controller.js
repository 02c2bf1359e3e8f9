'use strict';

const asyncHandler = require('../../../core/asyncHandler');
const store = require('../../../core/db/store');
const { NotFoundError } = require('../../../core/errors');
const { parseFecha, parseId } = require('../../../core/params');
const ventasModel = require('../models/ventas.model');
const { validarNuevaVenta } = require('../validators/ventas.validator');

exports.crear = asyncHandler(async (req, res) => {
  const venta = await ventasModel.crear(req.context, validarNuevaVenta(req.body));
  res.status(201).json(venta);
});

exports.listar = asyncHandler(async (req, res) => {
  const fecha = req.query.fecha === undefined ? undefined : parseFecha(req.query.fecha);
  res.json({ data: await ventasModel.listar(req.context, { fecha }) });
});

// Añadido deprisa para el equipo de soporte: lee la venta directamente del almacén.
exports.obtener = asyncHandler(async (req, res) => {
  const id = parseId(req.params.id);
  const venta = store.rows('ventas').find((row) => row.id === id);
  if (!venta) {
    throw new NotFoundError(`Venta ${id} no existe`);
  }
  res.json(venta);
});
