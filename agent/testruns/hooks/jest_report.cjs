// Per-test results from Jest without touching the test process's argv (agent/testruns/reports.py).
//
// Preloaded into every node process of a test run through NODE_OPTIONS=--require. When a process loads
// jest-config, its readConfigs is wrapped so the configuration it returns (the project's own, whatever
// file or package.json key it came from) also carries this file as a reporter writing a JSON report to
// FACTORY_JEST_REPORT; FACTORY_RELATED_FILES (paths, one a line) turns on Jest's related-tests mode, as
// --findRelatedTests would, for the factory's scoped run. Nothing else changes, in any other process.
'use strict';
const fs = require('fs');
const Module = require('module');

const HOOKED = Symbol.for('factory.jest.hooked');

function related() {
  return (process.env.FACTORY_RELATED_FILES || '').split('\n').filter(Boolean);
}

function withFactory(result) {
  const globalConfig = result.globalConfig;
  const reporters = globalConfig.reporters || [['default', {}]];
  const extra = {reporters: [...reporters, [__filename, {outputFile: process.env.FACTORY_JEST_REPORT}]]};
  if (related().length) {
    Object.assign(extra, {findRelatedTests: true, nonFlagArgs: related(), passWithNoTests: true});
  }
  return {...result, globalConfig: Object.freeze({...globalConfig, ...extra})};
}

function hook(jestConfig) {
  if (!jestConfig || typeof jestConfig.readConfigs !== 'function' || jestConfig[HOOKED]) {
    return jestConfig;
  }
  const original = jestConfig.readConfigs;
  const readConfigs = async (...args) => withFactory(await original.apply(jestConfig, args));
  try {
    jestConfig.readConfigs = readConfigs;
  } catch (error) {
    // A read-only export: hand out a copy that differs only there.
  }
  const hooked = jestConfig.readConfigs === readConfigs ? jestConfig : Object.create(jestConfig, {
    readConfigs: {value: readConfigs, enumerable: true},
  });
  Object.defineProperty(hooked, HOOKED, {value: true});
  return hooked;
}

if (process.env.FACTORY_JEST_REPORT && !global[HOOKED]) {
  global[HOOKED] = true;
  const load = Module._load;
  const seen = new WeakMap();
  Module._load = function (request, ...rest) {
    const exported = load.call(this, request, ...rest);
    if (request !== 'jest-config' || exported === null || typeof exported !== 'object') {
      return exported;
    }
    if (!seen.has(exported)) {
      seen.set(exported, hook(exported));
    }
    return seen.get(exported);
  };
}

function suiteReport(suite) {
  const failed = suite.numFailingTests > 0 || Boolean(suite.testExecError);
  return {
    name: suite.testFilePath,
    status: failed ? 'failed' : 'passed',
    message: suite.failureMessage || '',
    assertionResults: (suite.testResults || []).map((test) => ({
      fullName: test.fullName, title: test.title, status: test.status, failureMessages: test.failureMessages,
    })),
  };
}

// Jest's reporter interface: the same shape as `jest --json` writes.
class FactoryJsonReporter {
  constructor(globalConfig, options) {
    this.outputFile = (options && options.outputFile) || process.env.FACTORY_JEST_REPORT;
  }

  onRunComplete(contexts, results) {
    if (this.outputFile) {
      fs.writeFileSync(this.outputFile, JSON.stringify({testResults: results.testResults.map(suiteReport)}));
    }
  }
}

module.exports = FactoryJsonReporter;
