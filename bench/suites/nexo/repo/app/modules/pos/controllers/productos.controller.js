'use strict';

const asyncHandler = require('../../../core/asyncHandler');
const productosModel = require('../models/productos.model');

exports.listar = asyncHandler(async (req, res) => {
  res.json({ data: await productosModel.listar(req.context) });
});
