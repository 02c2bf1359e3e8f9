'use strict';

const express = require('express');
const clientesController = require('../controllers/clientes.controller');

const router = express.Router();

router.get('/', clientesController.listar);
router.post('/', clientesController.crear);
router.get('/:id', clientesController.obtener);

module.exports = router;
