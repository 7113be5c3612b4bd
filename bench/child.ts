/** The child side of a bench that runs each configuration in its own process: `--child JOB` runs it, prints MARK + JSON. */
export async function serveChild<J, R>(argv: string[], mark: string, run: (job: J) => Promise<R>): Promise<boolean> {
  const i = argv.indexOf('--child');
  if (i < 0) return false;
  const res = await run(JSON.parse(argv[i + 1]) as J);
  process.stdout.write(`${mark}${JSON.stringify(res)}\n`);
  return true;
}
