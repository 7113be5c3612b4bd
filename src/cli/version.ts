/** The package's version, bundled into dist/cli.js at build time (esbuild keeps only this field of package.json). */
import { version } from '../../package.json';

export const VERSION: string = version;
