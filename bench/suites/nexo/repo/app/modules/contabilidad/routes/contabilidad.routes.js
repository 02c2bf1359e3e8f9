'use strict';

const express = require('express');
const facturasController = require('../controllers/facturas.controller');

const router = express.Router();

router.get('/facturas', facturasController.listar);
router.post('/facturas', facturasController.crear);
router.get('/facturas/:id', facturasController.obtener);

module.exports = router;
