// Per-test results from Vitest without touching the test process's argv (agent/testruns/reports.py).
//
// Preloaded into every node process of a test run through NODE_OPTIONS=--require, like jest_report.cjs. In the
// main thread of a Vitest CLI process only (`vitest`, `npx vitest`, `npm test` running it), it registers
// vitest_loader.mjs, which hands Vitest's own `Vitest` class to `install` below as its module loads. `install`
// wraps the method that reads the configuration (the project's own, with the command's options): once Vitest
// has made the project's reporters, this file's reporter joins them and writes a Jest-shaped JSON report to
// FACTORY_VITEST_REPORT. FACTORY_RELATED_FILES (paths, one a line) asks for Vitest's related mode, as
// `vitest related <files>` would, for the factory's scoped run. Nothing else changes, in any other process.
'use strict';
const fs = require('fs');
const Module = require('module');
const path = require('path');
const {pathToFileURL} = require('url');
const {isMainThread} = require('worker_threads');

const INSTALL = Symbol.for('factory.vitest.install');
const PATCHED = Symbol.for('factory.vitest.patched');
const VITEST_CLI = new Set(['vitest', 'vitest.mjs']);

function related() {
  return (process.env.FACTORY_RELATED_FILES || '').split('\n').filter(Boolean);
}

const STATUS = {pass: 'passed', fail: 'failed', skip: 'skipped', todo: 'skipped', only: 'passed'};

function titles(task) {
  const names = [];
  for (let suite = task.suite; suite && suite !== task.file && suite.type !== 'file'; suite = suite.suite) {
    names.unshift(suite.name);
  }
  return [...names, task.name];
}

function tests(task) {
  return task.type === 'test' || task.type === 'custom' ? [task] : (task.tasks || []).flatMap(tests);
}

function testStatus(test) {
  if (test.mode === 'skip' || test.mode === 'todo') {
    return 'skipped';
  }
  return STATUS[test.result && test.result.state] || 'failed';  // never finished: not a pass
}

function errorsOf(result) {
  return ((result && result.errors) || []).map((error) => String(error.stack || error.message || error));
}

// The same shape as `jest --json` and Vitest's JSON reporter (agent.testruns.reports.parse_jest_json).
function fileReport(file) {
  const cases = tests(file);
  const loadErrors = errorsOf(file.result);
  const failed = loadErrors.length > 0 || cases.some((test) => testStatus(test) === 'failed');
  return {
    name: file.filepath,
    status: failed ? 'failed' : 'passed',
    message: loadErrors.join('\n'),
    assertionResults: cases.map((test) => ({
      fullName: titles(test).join(' > '), title: test.name, status: testStatus(test),
      failureMessages: errorsOf(test.result),
    })),
  };
}

class FactoryVitestReporter {
  constructor(outputFile) {
    this.outputFile = outputFile;
  }

  onInit(ctx) {
    this.ctx = ctx;
  }

  // Vitest 1 to 3 call onFinished; 4 only onTestRunEnd (3 both, with the same files).
  onFinished(files) {
    this.write(files || []);
  }

  onTestRunEnd() {
    this.write(this.ctx.state.getFiles());
  }

  write(files) {
    fs.writeFileSync(this.outputFile, JSON.stringify({testResults: files.map(fileReport)}));
  }
}

function install(Vitest) {
  const proto = Vitest && Vitest.prototype;
  const name = proto && ['_setServer', 'setServer'].find((key) => typeof proto[key] === 'function');
  if (!name || proto[PATCHED]) {
    return;
  }
  const original = proto[name];
  proto[name] = async function (options, ...rest) {
    const files = related();
    const asked = files.length ? {...options, related: files, passWithNoTests: true} : options;
    const result = await original.call(this, asked, ...rest);
    if (Array.isArray(this.reporters)) {
      this.reporters.push(new FactoryVitestReporter(process.env.FACTORY_VITEST_REPORT));
    }
    return result;
  };
  Object.defineProperty(proto, PATCHED, {value: true});
}

function isVitestCli() {
  return VITEST_CLI.has(path.basename(process.argv[1] || ''));
}

if (process.env.FACTORY_VITEST_REPORT && isMainThread && !globalThis[INSTALL] && isVitestCli()
    && typeof Module.register === 'function') {
  globalThis[INSTALL] = install;
  Module.register(pathToFileURL(path.join(__dirname, 'vitest_loader.mjs')).href);
}
