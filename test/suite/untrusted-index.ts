/**
 * The Restricted Mode suite (untrusted.test.ts), run like index.ts but in a workbench with Workspace Trust enabled and
 * a folder that was never trusted (test/e2e/untrusted.mjs prepares it). Bundled to dist/test/suite/untrusted.js.
 */
import Mocha from 'mocha';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 120_000, reporter: 'spec' });
  mocha.suite.emit('pre-require', globalThis, 'dist/test/suite/untrusted.js', mocha);
  require('./untrusted.test');
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures > 0 ? reject(new Error(`${failures} integration test(s) failed`)) : resolve()));
  });
}
