/**
 * The whole Runs view: sweeps (parents of their runs, sweeps.ts) and then every other run (tree.ts). Its own module so
 * that the run nodes and the sweep nodes, which sweeps build from run nodes, do not import each other.
 */
import { listRuns, RunListing } from '../../engine/run/run-folder';
import { JobMap, runJobId, sweepNodes, withSlurm } from './sweeps';
import { runNode, TreeNodeModel } from './run-nodes';

/** Sweeps (parents of their runs) first, then every other run in `runsDir`, newest first; Slurm states from `jobs`. */
export function buildRunTree(
  runsDir: string,
  opts: {
    isActive?: (runDir: string) => boolean;
    crashes?: Map<string, string>;
    describe?: (runDir: string) => RunListing;
    jobs?: JobMap;
  } = {},
): TreeNodeModel[] {
  const jobs = opts.jobs ?? new Map();
  const runs = listRuns(runsDir, opts.describe).map((l) =>
    withSlurm(runNode(l, { active: opts.isActive?.(l.dir), crash: opts.crashes?.get(l.dir) }), runJobId(l.dir), jobs),
  );
  return [...sweepNodes(runsDir, jobs, opts), ...runs];
}
