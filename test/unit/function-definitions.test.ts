import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../functions/commons/config';
import type { Platform } from '../../functions/commons/platform';
import { FUNCTION_DEFINITIONS } from '../../functions/definitions';

// Building fails on the environment before any service is reached: no platform is needed to see it.
const unreachable = new Proxy({} as Platform, {
  get: (_target, name) => {
    throw new Error(`platform.${String(name)} reached with a bad environment`);
  },
});

describe.each([...FUNCTION_DEFINITIONS.values()])('function $name', (definition) => {
  it('refuses an empty environment, naming every variable it needs', () => {
    // Prepare
    const names = Object.keys(definition.environment.shape);
    // Act
    const build = () => definition.create({}, unreachable);
    // Assess
    expect(build).toThrow(ConfigError);
    for (const name of names) expect(build).toThrow(new RegExp(name));
  });

  it('refuses a namespace the alarms do not watch', () => {
    const env = Object.fromEntries(Object.keys(definition.environment.shape).map((name) => [name, '1']));
    expect(() => definition.create({ ...env, POWERTOOLS_METRICS_NAMESPACE: 'Other' }, unreachable)).toThrow(
      /POWERTOOLS_METRICS_NAMESPACE/,
    );
  });
});
