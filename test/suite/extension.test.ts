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
import type { TreeNodeModel } from '../../src/extension/model/tree';
import { toyConfig } from '../helpers/toy-config';
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
export const TOY_CONFIG = toyConfig({ name: 'suite-toy', seed: 1, sampling: { perClass: 1 }, checkpoint: { interval: 20 } });


function writeFixtureRun(runsDir: string, name: string): string {
  const dir = path.join(runsDir, name);
  fs.mkdirSync(path.join(dir, 'checkpoints', 'teacher'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ teacher: { steps: 100 }, guided: { steps: 0 }, progressive: { steps: 0 } }));
  fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify({ name, createdAt: Date.now() - 60_000, configHash: 'fixture', version: '0.1.0' }));
  const t = Date.now() - 60_000;
  const events = [
    { type: 'run_start', t, pid: 1, host: os.hostname(), resumed: false, configHash: 'fixture' },
    { type: 'stage_start', t, stage: 'teacher', unit: 'teacher', totalSteps: 100, startStep: 0 },
    { type: 'loss', t: t + 1, unit: 'teacher', step: 100, loss: 0.25, lr: 0.001, rate: 10 },
    { type: 'checkpoint', t: t + 2, unit: 'teacher', step: 100, file: 'checkpoints/teacher/step-0000100.ckpt', final: true },
    { type: 'stage_end', t: t + 3, unit: 'teacher', step: 100, seconds: 10 },
    { type: 'run_end', t: t + 4, status: 'finished' },
  ];
  fs.writeFileSync(path.join(dir, 'events.jsonl'), events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'checkpoints', 'teacher', 'step-0000100.ckpt'), 'fixture');
  return dir;
}

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
    const manifest = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as { contributes: { commands: { command: string }[] } };
    for (const c of manifest.contributes.commands) assert.ok(all.has(c.command), `${c.command} (manifest) is registered`);
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
    assert.deepStrictEqual(units.map((u) => u.label), ['teacher']);
    const ckpts = api.tree.getChildren(units[0]) as TreeNodeModel[];
    assert.deepStrictEqual(ckpts.map((c) => c.label), ['step 100']);
    assert.deepStrictEqual(ckpts[0].command?.arguments, [dir, path.join('checkpoints', 'teacher', 'step-0000100.ckpt')]);
  });

  it('follows a run written by another process: appended events arrive live through the runs-folder watcher', async () => {
    const name = `external-run-${Date.now()}`;
    const dir = writeFixtureRun(runsDir, name);
    // Reopen the run as a live one held by a running process (this extension host stands in for the CLI).
    fs.writeFileSync(path.join(dir, 'run.lock'), JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: Date.now() }));
    const t = Date.now();
    fs.appendFileSync(path.join(dir, 'events.jsonl'), JSON.stringify({ type: 'run_start', t, pid: process.pid, host: os.hostname(), resumed: true, configHash: 'fixture' }) + '\n');
    await waitFor('the run to show as running', () => (api.tree.getChildren() as TreeNodeModel[]).find((r) => r.label === name && r.contextValue === 'run.running'));
    await new Promise((r) => setTimeout(r, 1000)); // let the watcher see the folder once (it primes the tail position)
    const got: string[] = [];
    const sub = api.manager.onRunEvent((runDir, e) => {
      if (path.basename(runDir) === name) got.push(e.type);
    });
    try {
      fs.appendFileSync(path.join(dir, 'events.jsonl'), JSON.stringify({ type: 'stage_start', t: t + 1, stage: 'guided', unit: 'guided', totalSteps: 50, startStep: 0 }) + '\n');
      fs.appendFileSync(path.join(dir, 'events.jsonl'), JSON.stringify({ type: 'loss', t: t + 2, unit: 'guided', step: 7, loss: 0.1, lr: 0.001, rate: 3 }) + '\n');
      await waitFor('the appended events as run events', () => (got.includes('loss') ? true : undefined), 20_000);
      assert.deepStrictEqual(got.filter((x) => x === 'stage_start' || x === 'loss'), ['stage_start', 'loss']);
    } finally {
      sub.dispose();
      fs.appendFileSync(path.join(dir, 'events.jsonl'), JSON.stringify({ type: 'run_end', t: t + 3, status: 'stopped' }) + '\n');
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
    const node = await waitFor('the run in the Runs view', () => (api.tree.getChildren() as TreeNodeModel[]).find((r) => r.runDir === runDir));
    assert.match(node.contextValue, /^run\.(stopped|finished)$/);
  });
});
