/** Get Started: opens the extension's walkthrough (package.json contributes.walkthroughs). */
import * as vscode from 'vscode';
import type { Services } from '../services';

export function register(context: vscode.ExtensionContext, s: Services): void {
  s.command('distill.gettingStarted', () => {
    const id = `${context.extension.id}#distill.gettingStarted`;
    s.log.info(`opening the walkthrough ${id}`);
    return vscode.commands.executeCommand('workbench.action.openWalkthrough', id, false);
  });
}
