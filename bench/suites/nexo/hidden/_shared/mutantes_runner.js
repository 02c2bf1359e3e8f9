'use strict';

// Juzga un fichero de tests escrito por el modelo con mutantes. Cada mutante sustituye un módulo
// de la aplicación (jest.mock con el módulo mutado generado aquí; ningún fichero del proyecto se
// toca) y el fichero de tests se ejecuta contra él en un Jest hijo. Unos buenos tests pasan con el
// código real y fallan con todos los mutantes.
// Vive en hidden/_shared/: se copia junto a los tests ocultos de cada ticket (lo usan T05 y T07).

const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..');
const JEST_BIN = path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
const ORIGINAL = 'codigo_real';

// Mutación de texto: aplica [buscar, reemplazar] al fuente (cada búsqueda debe aparecer una vez)
// y convierte sus require relativos en absolutos, para poder vivir en otra carpeta.
function mutateSource(relativePath, replacements) {
  const file = path.join(ROOT, relativePath);
  let source = fs.readFileSync(file, 'utf8');
  for (const [search, replace] of replacements) {
    const count = source.split(search).length - 1;
    if (count !== 1) {
      throw new Error(`mutante no aplicable a ${relativePath}: ${JSON.stringify(search)} aparece ${count} veces`);
    }
    source = source.replace(search, () => replace);
  }
  return source.replace(/require\((['"])(\.{1,2}\/[^'"]+)\1\)/g,
    (match, quote, request) => `require(${JSON.stringify(path.resolve(path.dirname(file), request))})`);
}

function writeWrappers(dir, { target, testFile, mutants }) {
  const targetPath = path.join(ROOT, target);
  const testPath = path.join(ROOT, testFile);
  for (const [name, moduleSource] of [[ORIGINAL, null], ...Object.entries(mutants)]) {
    const lines = [];
    if (moduleSource !== null) {
      const modulePath = path.join(dir, `${name}.module.js`);
      fs.writeFileSync(modulePath, moduleSource);
      lines.push(`jest.mock(${JSON.stringify(targetPath)}, () => require(${JSON.stringify(modulePath)}));`);
    }
    lines.push(`require(${JSON.stringify(testPath)});`);
    fs.writeFileSync(path.join(dir, `${name}.mutant.js`), `${lines.join('\n')}\n`);
  }
}

function summarize(report) {
  const results = {};
  for (const file of report.testResults) {
    const tests = file.assertionResults || [];
    results[path.basename(file.name, '.mutant.js')] = {
      passed: tests.filter((test) => test.status === 'passed').length,
      failed: tests.filter((test) => test.status === 'failed').length,
      suiteFailed: file.status === 'failed',
      message: (file.message || '').slice(0, 1500),
    };
  }
  return results;
}

// -> { codigo_real: {passed, failed, suiteFailed, message}, <mutante>: {...}, ... }
function runMutants({ id, target, testFile, mutants }) {
  if (!fs.existsSync(path.join(ROOT, testFile))) {
    throw new Error(`${testFile} no existe: el ticket pedía crearlo`);
  }
  const dir = path.join(__dirname, `mutantes_${id}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir);
  try {
    writeWrappers(dir, { target, testFile, mutants });
    const child = spawnSync(process.execPath, [
      JEST_BIN, '--ci', '--json', '--rootDir', ROOT, '--testMatch', `**/mutantes_${id}/*.mutant.js`,
      '--testPathIgnorePatterns', '/node_modules/',
    ], { cwd: ROOT, encoding: 'utf8', timeout: 240000, env: { ...process.env, FORCE_COLOR: '0' } });
    const start = child.stdout.indexOf('{');
    if (start === -1) {
      throw new Error(`Jest no devolvió el informe JSON: ${child.error || ''}${child.stderr.slice(-2000)}`);
    }
    return summarize(JSON.parse(child.stdout.slice(start)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// Lo que juzga cada ticket de tests con los resultados de runMutants: los tests del modelo pasan con
// el código real (al menos `minimo`) y fallan con el mutante `nombre`.
function expectPasanConElCodigoReal(results, minimo) {
  const real = results[ORIGINAL];
  expect(real.suiteFailed ? real.message : '').toBe('');
  expect(real.failed).toBe(0);
  expect(real.passed).toBeGreaterThanOrEqual(minimo);
}

function expectDetectanElMutante(results, nombre) {
  const result = results[nombre];
  expect({ mutante: nombre, detectado: result.suiteFailed && result.failed > 0 }).toEqual({ mutante: nombre, detectado: true });
}

module.exports = { runMutants, mutateSource, expectPasanConElCodigoReal, expectDetectanElMutante };
