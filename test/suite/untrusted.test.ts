/**
 * Restricted Mode in the real editor: the folder is not trusted and its .vscode/settings.json points distill.nodePath
 * at a script that would leave a marker file if anything ran it (test/e2e/untrusted.mjs writes both). Runs can be
 * looked at; nothing is trained, sampled, evaluated, exported or probed, and the marker never appears.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { DistillApi } from '../../src/extension/extension';
import type { TreeNodeModel } from '../../src/extension/model/run-nodes';
import { writeFixtureRun } from './fixtures';
import { waitFor } from './wait';

const EXTENSION_ID = 'diffusion-distiller.diffusion-distiller';
/** Written by test/e2e/untrusted.mjs: the script distill.nodePath names, and the marker it writes when run. */
export const FAKE_NODE = path.join('.vscode', 'fake-node.sh');
export const MARKER = path.join('.vscode', 'fake-node-ran');

describe('Restricted Mode (an untrusted folder)', () => {
  let api: DistillApi;
  let folder: string;
  let runsDir: string;
  let fixture: string;

  before(async () => {
    folder = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const ext = vscode.extensions.getExtension<DistillApi>(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} is installed`);
    api = await ext.activate();
    runsDir = api.runsDir()!;
    fixture = writeFixtureRun(runsDir, `restricted-${Date.now()}`);
  });

  it('the folder is untrusted and the workspace distill.nodePath is not in effect', () => {
    assert.strictEqual(vscode.workspace.isTrusted, false);
    assert.ok(fs.existsSync(path.join(folder, FAKE_NODE)), 'the fixture script exists');
    const settings = fs.readFileSync(path.join(folder, '.vscode', 'settings.json'), 'utf8');
    assert.ok(settings.includes('fake-node.sh'), 'the workspace settings name the script');
    assert.strictEqual(vscode.workspace.getConfiguration('distill').get<string>('nodePath'), '');
  });

  it('the Runs view lists the runs folder', async () => {
    await vscode.commands.executeCommand('workbench.view.extension.distill');
    const node = await waitFor('the fixture run in the Runs view', () =>
      (api.tree.getChildren() as TreeNodeModel[]).find((r) => r.runDir === fixture),
    );
    assert.strictEqual(node.contextValue, 'run.finished');
    const units = api.tree.getChildren(node) as TreeNodeModel[];
    assert.deepStrictEqual(
      units.map((u) => u.label),
      ['teacher'],
    );
  });

  it('Start Run, Resume Run, Evaluate, Export and Show Backends are refused; no process starts', async () => {
    const config = path.join(folder, 'toy.distill.json');
    assert.ok(fs.existsSync(config));
    const before = fs.readdirSync(runsDir).sort();
    await vscode.commands.executeCommand('distill.startRun', vscode.Uri.file(config));
    await vscode.commands.executeCommand('distill.resumeRun', fixture);
    await vscode.commands.executeCommand('distill.evaluateRun', fixture);
    await vscode.commands.executeCommand('distill.exportStudent', fixture);
    await vscode.commands.executeCommand('distill.showBackends');
    await vscode.commands.executeCommand('distill.startSweep', vscode.Uri.file(config));
    await new Promise((r) => setTimeout(r, 3000));
    assert.deepStrictEqual(api.manager.activeRuns(), []);
    assert.deepStrictEqual(fs.readdirSync(runsDir).sort(), before, 'no run folder was created');
    assert.ok(!fs.existsSync(path.join(fixture, 'export')), 'nothing was exported');
    assert.strictEqual(fs.existsSync(path.join(folder, MARKER)), false, 'the workspace node script never ran');
  });

  it('the run manager itself refuses to start a worker', async () => {
    await assert.rejects(
      async () =>
        api.manager.sample({
          runDir: fixture,
          checkpoint: 'checkpoints/teacher/step-0000100.ckpt',
        } as unknown as Parameters<DistillApi['manager']['sample']>[0]),
      /Restricted Mode/,
    );
    await assert.rejects(async () => api.manager.resume(fixture), /Restricted Mode/);
    assert.strictEqual(fs.existsSync(path.join(folder, MARKER)), false);
  });
});
