/**
 * Configs in the editor: the workspace's *.distill.json for pickers, and New Config, which copies a bundled example
 * (comments included) into the workspace folder.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { ConfigEntry } from '../../protocol';
import { CONFIG_SUFFIX, describeConfig, listExamples, starterConfigText } from '../configs';
import type { Services } from '../services';

const CONFIG_GLOB = `**/*${CONFIG_SUFFIX}`;
const CONFIG_EXCLUDE = '**/{node_modules,.git,dist,out}/**';

/** The workspace's configs, by label, each with its stages or its first problems. */
export async function listConfigs(): Promise<ConfigEntry[]> {
  const uris = await vscode.workspace.findFiles(CONFIG_GLOB, CONFIG_EXCLUDE, 500);
  return uris
    .map((u) => describeConfig(u.fsPath, vscode.workspace.asRelativePath(u)))
    .sort((a, b) => a.label.localeCompare(b.label));
}

/** The extension's config schema when it lies inside the workspace folder (then a new config may point at it). */
function schemaInWorkspace(extensionUri: vscode.Uri, folder: string): string | undefined {
  const schema = vscode.Uri.joinPath(extensionUri, 'src', 'engine', 'run', 'config.schema.json').fsPath;
  const rel = path.relative(folder, schema);
  return !rel.startsWith('..') && !path.isAbsolute(rel) && fs.existsSync(schema) ? schema : undefined;
}

export function register(context: vscode.ExtensionContext, s: Services): void {
  // distill.newConfig [template]: with an example's id (the walkthrough's buttons) it writes <id>.distill.json (or
  // <id>-2…) into the workspace folder and opens it; without, it asks for the example and the file name.
  s.command('distill.newConfig', async (template?: unknown) => {
    const folder = vscode.workspace.workspaceFolders?.[0];
    if (!folder) throw new Error('Open a folder first: the new config is written into it.');
    const examples = listExamples(vscode.Uri.joinPath(context.extensionUri, 'examples').fsPath);
    if (examples.length === 0) throw new Error('this build ships no example configs (examples/*.distill.json)');
    const given = typeof template === 'string' ? examples.find((e) => e.id === template) : undefined;
    if (typeof template === 'string' && !given)
      throw new Error(`no example config "${template}"; examples: ${examples.map((e) => e.id).join(', ')}`);
    const pick = given
      ? { example: given }
      : await vscode.window.showQuickPick(
          examples.map((e) => ({ label: e.id, description: e.description, example: e })),
          { placeHolder: 'Start from which example?' },
        );
    if (!pick) return;
    let name = `${pick.example.id}${CONFIG_SUFFIX}`;
    for (let i = 2; fs.existsSync(path.join(folder.uri.fsPath, name)); i++)
      name = `${pick.example.id}-${i}${CONFIG_SUFFIX}`;
    const entered = given
      ? name
      : await vscode.window.showInputBox({
          prompt: 'File name of the new config (in the workspace folder)',
          value: name,
          validateInput: (v) =>
            !v.endsWith(CONFIG_SUFFIX)
              ? `must end with ${CONFIG_SUFFIX}`
              : fs.existsSync(path.join(folder.uri.fsPath, v))
                ? `${v} exists already`
                : undefined,
        });
    if (!entered) return;
    const target = path.join(folder.uri.fsPath, entered);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(
      target,
      starterConfigText(pick.example.file, target, schemaInWorkspace(context.extensionUri, folder.uri.fsPath)),
      { flag: 'wx' },
    );
    await vscode.window.showTextDocument(vscode.Uri.file(target));
    s.log.info(`wrote ${target} from the ${pick.example.id} example`);
  });
}
