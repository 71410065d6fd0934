import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The checkout's root, whether this runs from source (vitest) or compiled (build/test/support). */
export function projectRoot(from = __dirname): string {
  return existsSync(join(from, 'package.json')) ? from : projectRoot(dirname(from));
}
