/**
 * The worker's Node.js: its version is checked once the folder is trusted (at start-up, when trust is granted, when
 * distill.nodePath changes); one older than 20 gets a message naming the version found and the setting to change.
 */
import * as vscode from 'vscode';
import { nodeVersionProblem, readNodeVersion } from '../model/runtime';
import type { Services } from '../services';

export function register(context: vscode.ExtensionContext, s: Services): void {
  const check = async () => {
    if (!s.trust.isTrusted()) return; // asking an executable its version starts it
    const runtime = s.runtime();
    let problem: string | undefined;
    try {
      const version = await readNodeVersion(runtime);
      s.log.info(`worker runtime ${runtime.nodePath}: Node.js ${version}`);
      problem = nodeVersionProblem(runtime, version);
    } catch (e) {
      problem = `${(e as Error).message}; set distill.nodePath to a Node.js 20 or newer`;
    }
    if (!problem) return;
    s.log.error(problem);
    const pick = await vscode.window.showErrorMessage(`Distill: ${problem}.`, 'Open Settings');
    if (pick) await vscode.commands.executeCommand('workbench.action.openSettings', 'distill.nodePath');
  };
  // Trust granted and the setting changing come together (restricted settings take effect): one check for both.
  let timer: NodeJS.Timeout | undefined = setTimeout(() => ((timer = undefined), void check()), 0);
  const checkSoon = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => ((timer = undefined), void check()), 200);
  };
  context.subscriptions.push(
    { dispose: () => timer && clearTimeout(timer) },
    vscode.workspace.onDidGrantWorkspaceTrust(checkSoon),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('distill.nodePath')) checkSoon();
    }),
  );
}
