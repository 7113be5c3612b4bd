/** What the panels need from the rest of the extension (implemented by features/panels.ts). */
import type { RunEvent } from '../../engine/run/events';
import type { JobInfo } from '../../launcher/slurm';
import type {
  ConfigEntry,
  EditInput,
  EditSource,
  EditTabResult,
  EditTabSpec,
  SampleResult,
  SampleSpec,
} from '../../protocol';

export interface PanelServices {
  worker: {
    sample(
      spec: SampleSpec,
      onProgress?: (done: number, total: number) => void,
      signal?: AbortSignal,
    ): Promise<SampleResult>;
    /** The preview's Edit tab, run by the tools worker: the input at the model's resolution, and one model's edit. */
    editInput(runDir: string, source: EditSource, signal?: AbortSignal): Promise<EditInput>;
    edit(
      spec: EditTabSpec,
      onProgress?: (done: number, total: number) => void,
      signal?: AbortSignal,
    ): Promise<EditTabResult>;
  };
  launch(configPath: string): Promise<void>;
  resume(runDir: string): Promise<void>;
  stop(runDir: string): Promise<void>;
  isActive(runDir: string): boolean;
  onRunEvent(listener: (runDir: string, e: RunEvent) => void): { dispose(): void };
  listConfigs(): Promise<ConfigEntry[]>;
  /** Runs the Evaluate Run command for a run; resolves when it has ended (finished, cancelled or failed). */
  evaluate(runDir: string): Promise<void>;
  /** True while this window evaluates the run. */
  isEvaluating(runDir: string): boolean;
  /** An export or evaluation started or ended. */
  onToolsChanged(listener: () => void): { dispose(): void };
  /** Slurm jobs as the Runs view's last squeue/sacct poll saw them (the Compare view's states). */
  slurmJobs(): ReadonlyMap<string, JobInfo>;
  log: { info(s: string): void; warn(s: string): void };
}
