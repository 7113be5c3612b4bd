#!/usr/bin/env node
// The `distill` command: runs the bundled CLI, dist/cli.js (a checkout builds it with `npm run build`).
const fs = require('fs');
const path = require('path');

const cli = path.join(__dirname, '..', 'dist', 'cli.js');
if (!fs.existsSync(cli)) {
  console.error(`distill: ${cli} is missing; in a checkout of Diffusion Distiller, run \`npm run build\` first`);
  process.exit(1);
}
require(cli);
