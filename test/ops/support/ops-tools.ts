import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * The outside tools of the `ops` suites, installed by tools/ops/install-tools.sh
 * (which `npm run test:ops` runs first). PROMTOOL and CHROMIUM override them.
 */
export const promtoolPath = (): string =>
  toolAt('PROMTOOL', resolve(__dirname, '../../../.cache/ops/prometheus/usr/bin/promtool'));

export const chromiumPath = (): string => toolAt('CHROMIUM', '/usr/bin/chromium');

const toolAt = (variable: string, fallback: string): string => {
  const path = process.env[variable] ?? fallback;
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: run tools/ops/install-tools.sh (or set ${variable})`);
  }
  return path;
};
