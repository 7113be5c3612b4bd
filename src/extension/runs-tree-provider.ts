/** The "Runs" view: maps the plain run-explorer model (model/run-nodes.ts) onto VS Code tree items. */
import * as vscode from 'vscode';
import type { RunListing } from '../engine/run/run-folder';
import { RunListingCache } from './model/run-log';
import type { JobInfo } from '../launcher/slurm';
import { buildRunTree } from './model/build-run-tree';
import { TreeNodeModel } from './model/run-nodes';

export class RunsTreeProvider implements vscode.TreeDataProvider<TreeNodeModel> {
  private readonly changed = new vscode.EventEmitter<TreeNodeModel | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private roots: TreeNodeModel[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Each run's log is read once, then only by what was appended. */
  private readonly listings = new RunListingCache();
  private loaded = false;
  private readonly loadedEmitter = new vscode.EventEmitter<number>();
  /** Fires once, after the first listing of the runs folder (with the number of runs). */
  readonly onFirstLoad = this.loadedEmitter.event;
  /** Slurm jobs as the last squeue/sacct/scontrol poll saw them (features/sweeps.ts keeps it current). */
  jobs: ReadonlyMap<string, JobInfo> = new Map();

  constructor(
    private readonly runsDir: () => string | undefined,
    private readonly isActive: (runDir: string) => boolean,
    private readonly crashes: Map<string, string>,
    private readonly onError: (e: Error) => void,
  ) {}

  /** The runs as last listed, those inside sweeps included (the status bar and quick picks use them). */
  get runs(): TreeNodeModel[] {
    return this.roots.flatMap((n) => (n.kind === 'sweep' ? n.children : [n]));
  }

  /** Re-reads the runs folder now. */
  reload(): TreeNodeModel[] {
    const dir = this.runsDir();
    try {
      this.roots = dir
        ? buildRunTree(dir, {
            isActive: this.isActive,
            crashes: this.crashes,
            describe: (d) => this.listings.describe(d),
            jobs: this.jobs,
          })
        : [];
      this.listings.prune(new Set(this.roots.map((r) => r.runDir)));
    } catch (e) {
      this.roots = [];
      this.onError(e as Error);
    }
    if (!this.loaded) {
      this.loaded = true;
      this.loadedEmitter.fire(this.roots.length);
    }
    return this.roots;
  }

  /** One run's listing, from the same incremental reader as the tree. */
  describe(runDir: string): RunListing {
    return this.listings.describe(runDir);
  }

  refresh(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.changed.fire(undefined);
  }

  /** Refresh at most every `ms` milliseconds (file-watcher storms, event streams). */
  refreshSoon(ms = 300): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.refresh(), ms);
  }

  getChildren(element?: TreeNodeModel): TreeNodeModel[] {
    if (element) return element.children;
    return this.reload();
  }

  getTreeItem(node: TreeNodeModel): vscode.TreeItem {
    const collapsible =
      node.children.length === 0
        ? vscode.TreeItemCollapsibleState.None
        : (node.kind === 'run' && node.status === 'running') || node.contextValue === 'sweep.active'
          ? vscode.TreeItemCollapsibleState.Expanded
          : vscode.TreeItemCollapsibleState.Collapsed;
    const item = new vscode.TreeItem(node.label, collapsible);
    item.id = node.id;
    item.description = node.description;
    item.tooltip = node.tooltip;
    item.contextValue = node.contextValue;
    item.iconPath = new vscode.ThemeIcon(node.icon, node.iconColor ? new vscode.ThemeColor(node.iconColor) : undefined);
    if (node.command) item.command = node.command;
    item.accessibilityInformation = { label: `${node.label}${node.description ? `, ${node.description}` : ''}` };
    return item;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.changed.dispose();
    this.loadedEmitter.dispose();
  }
}
