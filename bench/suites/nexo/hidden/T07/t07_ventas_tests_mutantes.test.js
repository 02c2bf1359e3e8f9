'use strict';

// T07: los tests de tests/pos/ventas.crear.test.js se juzgan con mutantes de crear() de
// app/modules/pos/models/ventas.model.js (ver t07_mutantes.js).

const path = require('path');
const { runMutants, expectPasanConElCodigoReal, expectDetectanElMutante } = require('./mutantes_runner');
const { NOMBRES } = require('./t07_mutantes');

const TARGET = 'app/modules/pos/models/ventas.model.js';
const TEST_FILE = 'tests/pos/ventas.crear.test.js';

jest.setTimeout(300000);

function mutantModule(nombre) {
  const target = path.join(__dirname, '..', TARGET);
  const mutantes = path.join(__dirname, 't07_mutantes.js');
  return [
    `const real = jest.requireActual(${JSON.stringify(target)});`,
    `const { crearMutante } = require(${JSON.stringify(mutantes)});`,
    `module.exports = { ...real, crear: crearMutante(${JSON.stringify(nombre)}) };`,
    '',
  ].join('\n');
}

let results;

beforeAll(() => {
  const mutants = Object.fromEntries(NOMBRES.map((nombre) => [nombre, mutantModule(nombre)]));
  results = runMutants({ id: 't07', target: TARGET, testFile: TEST_FILE, mutants });
});

test('los tests pasan con el código real', () => expectPasanConElCodigoReal(results, 6));

test.each(NOMBRES)('los tests detectan el mutante %s', (nombre) => expectDetectanElMutante(results, nombre));
