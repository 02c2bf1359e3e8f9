'use strict';

const express = require('express');
const productosController = require('../controllers/productos.controller');
const ventasController = require('../controllers/ventas.controller');

const router = express.Router();

router.get('/productos', productosController.listar);
router.get('/ventas', ventasController.listar);
router.post('/ventas', ventasController.crear);
router.get('/ventas/:id', ventasController.obtener);

module.exports = router;
