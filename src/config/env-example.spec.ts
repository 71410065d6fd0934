import { getMetadataStorage } from 'class-validator';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { Environment, validateEnvironment } from './environment';

/** `.env.example` at the repository root, as `NAME=value` pairs in file order. */
function readEnvExample(): Array<[string, string]> {
  const text = readFileSync(join(__dirname, '..', '..', '.env.example'), 'utf8');
  return text
    .split('\n')
    .map((line) => /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line))
    .filter((match) => match !== null)
    .map((match) => [match[1], match[2]]);
}

/** Every variable `Environment` validates: each carries at least one class-validator rule. */
function environmentVariables(): string[] {
  const rules = getMetadataStorage().getTargetValidationMetadatas(Environment, '', true, false);
  return [...new Set(rules.map((rule) => rule.propertyName))];
}

const REQUIRED = {
  BACKEND_URL: 'http://backend.internal:8080/',
  AUTH_URL: 'http://auth.internal/oauth/token',
  AUTH_CLIENT_ID: 'worker',
  AUTH_CLIENT_SECRET: 'secret',
};

describe('.env.example', () => {
  const example = readEnvExample();

  it('lists every variable the worker reads, each once, and nothing else', () => {
    const names = example.map(([name]) => name);
    expect(names).toHaveLength(new Set(names).size);
    expect([...names].sort()).toEqual(environmentVariables().sort());
  });

  it("gives the code's defaults: with the required ones filled in, it validates to the same configuration", () => {
    const filledIn = { ...Object.fromEntries(example), ...REQUIRED };
    expect(validateEnvironment(filledIn)).toEqual(validateEnvironment(REQUIRED));
  });

  it('leaves the secrets and the required variables empty', () => {
    const values = new Map(example);
    for (const name of ['STEAM_API_KEY', 'STEAM_PROXIES', 'ADMIN_PASSWORD', ...Object.keys(REQUIRED)]) {
      expect(values.get(name), name).toBe('');
    }
  });
});
