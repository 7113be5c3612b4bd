// `npm test` / `npm run test:integration` first: the npm packages the integration suites read that are not dependencies (the emoji
// sprites of test/integration/emoji.test.ts), installed the way `distill run` installs them on demand (src/launcher/data-package.ts):
// `npm ci && npm test` stays true. A no-op when they are there (CI installs them in .ci/run).
import { ensureDataPackage } from '../src/launcher/data-package';

ensureDataPackage({ kind: 'emoji', vendor: 'google' }, { log: (line) => console.log(line) }).then(
  (dir) => console.log(`test data: ${dir}`),
  (e) => {
    console.error(`test data: ${(e as Error).message}`);
    process.exit(1);
  },
);
