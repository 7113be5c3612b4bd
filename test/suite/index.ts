/**
 * The integration suite inside a real VS Code extension host (the @vscode/test-electron contract: `run()` resolves
 * when every test passed, rejects otherwise). Bundled to dist/test/suite/index.js; mocha is loaded from node_modules.
 */
import Mocha from 'mocha';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 120_000, reporter: 'spec' });
  // Bundled test files register through the globals (describe/it) that pre-require installs.
  mocha.suite.emit('pre-require', globalThis, 'dist/test/suite/index.js', mocha);
  require('./budget.test');
  require('./extension.test');
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures > 0 ? reject(new Error(`${failures} integration test(s) failed`)) : resolve()));
  });
}
