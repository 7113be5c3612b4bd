/**
 * Integration tests in the real editor: activation, command registration, the Runs view over a fixture run folder,
 * and Start Run on a toy config producing a live run folder. Run by test/e2e (code-server) through test/suite/index.ts.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { DistillApi } from '../../src/extension/extension';
import type { TreeNodeModel } from '../../src/extension/model/run-nodes';
import { toyConfig } from '../helpers/toy-config';
import { writeFixtureRun } from './fixtures';
import { waitFor } from './wait';

const EXTENSION_ID = 'diffusion-distiller.diffusion-distiller';
const COMMANDS = [
  'distill.startRun',
  'distill.resumeRun',
  'distill.stopRun',
  'distill.openDashboard',
  'distill.previewCheckpoint',
  'distill.newConfig',
  'distill.exportStudent',
  'distill.showLog',
  'distill.evaluateRun',
];

/** A tiny toy config: trains in seconds on the wasm backend. */
export const TOY_CONFIG = toyConfig({
  name: 'suite-toy',
  seed: 1,
  sampling: { perClass: 1 },
  checkpoint: { interval: 20 },
});

describe('Diffusion Distiller extension', () => {
  let api: DistillApi;
  let runsDir: string;

  before(async () => {
    const ext = vscode.extensions.getExtension<DistillApi>(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} is installed`);
    api = await ext.activate();
    const dir = api.runsDir();
    assert.ok(dir, 'a workspace folder is open');
    runsDir = dir;
    fs.mkdirSync(runsDir, { recursive: true });
  });

  it('activates and exposes its API', () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    assert.strictEqual(ext.isActive, true);
    assert.strictEqual(typeof api.manager.start, 'function');
  });

  it('registers every command', async () => {
    const all = new Set(await vscode.commands.getCommands(true));
    for (const id of COMMANDS) assert.ok(all.has(id), `${id} is registered`);
    const manifest = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as {
      contributes: { commands: { command: string }[] };
    };
    for (const c of manifest.contributes.commands)
      assert.ok(all.has(c.command), `${c.command} (manifest) is registered`);
  });

  it('shows a fixture run of the runs folder in the Runs view, with units and checkpoints', async () => {
    const name = `fixture-run-${Date.now()}`;
    const dir = writeFixtureRun(runsDir, name);
    await vscode.commands.executeCommand('workbench.view.extension.distill');
    const node = await waitFor(`${name} in the Runs view`, () => {
      const roots = api.tree.getChildren() as TreeNodeModel[];
      return roots.find((r) => r.label === name);
    });
    assert.strictEqual(node.contextValue, 'run.finished');
    const item = api.tree.getTreeItem(node);
    assert.strictEqual(item.label, name);
    const units = api.tree.getChildren(node) as TreeNodeModel[];
    assert.deepStrictEqual(
      units.map((u) => u.label),
      ['teacher'],
    );
    const ckpts = api.tree.getChildren(units[0]) as TreeNodeModel[];
    assert.deepStrictEqual(
      ckpts.map((c) => c.label),
      ['step 100'],
    );
    assert.deepStrictEqual(ckpts[0].command?.arguments, [
      dir,
      path.join('checkpoints', 'teacher', 'step-0000100.ckpt'),
    ]);
  });

  it('follows a run written by another process: appended events arrive live through the runs-folder watcher', async () => {
    const name = `external-run-${Date.now()}`;
    const dir = writeFixtureRun(runsDir, name);
    // Reopen the run as a live one held by a running process (this extension host stands in for the CLI).
    fs.writeFileSync(
      path.join(dir, 'run.lock'),
      JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: Date.now() }),
    );
    const t = Date.now();
    fs.appendFileSync(
      path.join(dir, 'events.jsonl'),
      JSON.stringify({
        type: 'run_start',
        t,
        pid: process.pid,
        host: os.hostname(),
        resumed: true,
        configHash: 'fixture',
      }) + '\n',
    );
    await waitFor('the run to show as running', () =>
      (api.tree.getChildren() as TreeNodeModel[]).find((r) => r.label === name && r.contextValue === 'run.running'),
    );
    await new Promise((r) => setTimeout(r, 1000)); // let the watcher see the folder once (it primes the tail position)
    const got: string[] = [];
    const sub = api.manager.onRunEvent((runDir, e) => {
      if (path.basename(runDir) === name) got.push(e.type);
    });
    try {
      fs.appendFileSync(
        path.join(dir, 'events.jsonl'),
        JSON.stringify({
          type: 'stage_start',
          t: t + 1,
          stage: 'guided',
          unit: 'guided',
          totalSteps: 50,
          startStep: 0,
        }) + '\n',
      );
      fs.appendFileSync(
        path.join(dir, 'events.jsonl'),
        JSON.stringify({ type: 'loss', t: t + 2, unit: 'guided', step: 7, loss: 0.1, lr: 0.001, rate: 3 }) + '\n',
      );
      await waitFor('the appended events as run events', () => (got.includes('loss') ? true : undefined), 20_000);
      assert.deepStrictEqual(
        got.filter((x) => x === 'stage_start' || x === 'loss'),
        ['stage_start', 'loss'],
      );
    } finally {
      sub.dispose();
      fs.appendFileSync(
        path.join(dir, 'events.jsonl'),
        JSON.stringify({ type: 'run_end', t: t + 3, status: 'stopped' }) + '\n',
      );
      fs.rmSync(path.join(dir, 'run.lock'), { force: true });
    }
  });

  it('Start Run on a toy config creates a run folder whose events.jsonl grows, and Stop Run stops it', async () => {
    const folder = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const configPath = path.join(folder, `suite-toy-${Date.now()}.distill.json`);
    fs.writeFileSync(configPath, JSON.stringify(TOY_CONFIG, null, 2));
    const before = new Set(fs.existsSync(runsDir) ? fs.readdirSync(runsDir) : []);
    await vscode.commands.executeCommand('distill.startRun', vscode.Uri.file(configPath));
    const runDir = await waitFor('a new run folder', () => {
      const added = fs.readdirSync(runsDir).filter((d) => !before.has(d) && d.startsWith('suite-toy'));
      return added.length ? path.join(runsDir, added[0]) : undefined;
    });
    const events = path.join(runDir, 'events.jsonl');
    const size = () => (fs.existsSync(events) ? fs.statSync(events).size : 0);
    const first = await waitFor('the first events', () => (size() > 0 ? size() : undefined));
    await waitFor('events.jsonl to grow', () => size() > first, 90_000);
    assert.ok(fs.readFileSync(events, 'utf8').includes('"run_start"'));
    if (api.manager.isActive(runDir)) {
      await vscode.commands.executeCommand('distill.stopRun', runDir);
      await waitFor('the run to stop', () => !api.manager.isActive(runDir), 60_000);
      const text = fs.readFileSync(events, 'utf8');
      assert.match(text, /"type":"run_end"[^\n]*"status":"(stopped|finished)"/);
    }
    const node = await waitFor('the run in the Runs view', () =>
      (api.tree.getChildren() as TreeNodeModel[]).find((r) => r.runDir === runDir),
    );
    assert.match(node.contextValue, /^run\.(stopped|finished)$/);
  });

  it('opens the commented example configs as JSON with comments: schema-checked, no "Comments are not permitted"', async () => {
    const examples = path.join(vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath, 'examples');
    const commented = ['emoji', 'emoji-latent', 'images'].map((id) => path.join(examples, `${id}.distill.json`));
    for (const f of commented)
      assert.match(fs.readFileSync(f, 'utf8'), /^\s*\/\//m, `${path.basename(f)} has comments`);
    const folder = path.join(vscode.workspace.workspaceFolders![0].uri.fsPath, `jsonc-${Date.now()}`);
    fs.mkdirSync(folder, { recursive: true });
    // A copy as New Config writes it (no "$schema": validated by its file name) with a schema error: it shows that
    // the JSON language server has validated the files against the extension's schema.
    const broken = path.join(folder, 'broken.distill.json');
    const text = fs.readFileSync(commented[0], 'utf8').replace(/^\s*"\$schema":.*\n/m, '');
    assert.match(text, /"seed": 0/);
    fs.writeFileSync(broken, text.replace('"seed": 0', '"seed": "zero"'));
    const sweep = path.join(folder, 'grid.sweep.json');
    fs.writeFileSync(sweep, '// a commented sweep\n{ "name": "grid" }\n');
    // The examples themselves are opened in place (their "$schema" is relative to the examples folder).
    const docs = await Promise.all(
      [broken, ...commented, sweep].map((f) => vscode.workspace.openTextDocument(vscode.Uri.file(f))),
    );
    for (const d of docs) assert.strictEqual(d.languageId, 'jsonc', `${path.basename(d.uri.fsPath)} opens as jsonc`);
    for (const d of docs.slice(0, 4)) await vscode.window.showTextDocument(d, { preview: false });
    const json = vscode.extensions.getExtension('vscode.json-language-features');
    assert.ok(json, 'the editor has its JSON language features');
    await json.activate();
    const seedError = await waitFor(
      'the schema error in broken.distill.json',
      () => {
        const diags = vscode.languages.getDiagnostics(docs[0].uri);
        return diags.find((x) => /integer|Incorrect type/i.test(x.message));
      },
      60_000,
    ).catch((e: Error) => {
      const all = vscode.languages
        .getDiagnostics()
        .map(([u, d]) => `${path.basename(u.fsPath)}: ${d.map((x) => x.message).join(' | ')}`);
      throw new Error(
        `${e.message}; JSON language features active: ${json.isActive}; diagnostics: ${all.join('; ') || 'none'}`,
      );
    });
    assert.strictEqual(docs[0].getText(seedError.range), '"zero"');
    assert.deepStrictEqual(
      vscode.languages
        .getDiagnostics(docs[0].uri)
        .filter((x) => /comment/i.test(x.message))
        .map((x) => x.message),
      [],
    );
    // The examples were opened with it; give the server a moment past the broken one, then expect nothing.
    await new Promise((r) => setTimeout(r, 2000));
    for (const d of docs.slice(1, 4)) {
      const diags = vscode.languages.getDiagnostics(d.uri).map((x) => `${x.range.start.line + 1}: ${x.message}`);
      assert.deepStrictEqual(diags, [], `${path.basename(d.uri.fsPath)} has no diagnostics`);
    }
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    fs.rmSync(folder, { recursive: true, force: true });
  });
});
