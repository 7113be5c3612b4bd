// The Restricted Mode check: a folder that is never trusted, whose .vscode/settings.json points distill.nodePath at a
// script that would write a marker file when run, and a config to try Start Run on. test/suite/untrusted.test.ts
// runs in it (a server with Workspace Trust on) and asserts the runs are listed, every command that would start a
// process is refused, and the marker never appears.
import fs from 'node:fs';
import path from 'node:path';

/** Writes the untrusted workspace into `dir`; returns the marker's path. */
export function makeUntrustedWorkspace(dir) {
  fs.mkdirSync(path.join(dir, '.vscode'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'runs'), { recursive: true });
  const marker = path.join(dir, '.vscode', 'fake-node-ran');
  const script = path.join(dir, '.vscode', 'fake-node.sh');
  fs.writeFileSync(script, `#!/bin/sh\necho "started with: $*" >> '${marker}'\nexec node "$@"\n`, { mode: 0o755 });
  fs.writeFileSync(
    path.join(dir, '.vscode', 'settings.json'),
    JSON.stringify(
      { 'distill.nodePath': script, 'distill.launcher': 'local', 'distill.slurm.extra': [`touch '${marker}'`] },
      null,
      2,
    ),
  );
  fs.writeFileSync(
    path.join(dir, 'toy.distill.json'),
    `// Would train in seconds, if the folder were trusted.\n${JSON.stringify(
      {
        name: 'restricted-toy',
        seed: 1,
        backend: 'wasm',
        threads: 1,
        data: { kind: 'toy2d', shape: 'moons', n: 256 },
        model: { kind: 'mlp', hidden: 16, depth: 1, embedDim: 16 },
        teacher: { steps: 40, batch: 32, lr: 0.001 },
        guided: { steps: 0 },
        progressive: { steps: 0 },
      },
      null,
      2,
    )}\n`,
  );
  fs.rmSync(marker, { force: true });
  return marker;
}
