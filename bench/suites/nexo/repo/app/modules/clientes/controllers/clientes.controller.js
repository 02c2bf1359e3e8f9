'use strict';

const asyncHandler = require('../../../core/asyncHandler');
const { parseId } = require('../../../core/params');
const clientesModel = require('../models/clientes.model');
const { validarNuevoCliente } = require('../validators/clientes.validator');

exports.listar = asyncHandler(async (req, res) => {
  const clientes = await clientesModel.listar(req.context);
  res.json({ data: clientes });
});

exports.obtener = asyncHandler(async (req, res) => {
  const cliente = await clientesModel.obtener(req.context, parseId(req.params.id));
  res.json(cliente);
});

exports.crear = asyncHandler(async (req, res) => {
  const datos = validarNuevoCliente(req.body);
  const cliente = await clientesModel.crear(req.context, datos);
  res.status(201).json(cliente);
});
