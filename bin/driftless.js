#!/usr/bin/env node
// `npx driftless` runs the TypeScript CLI through tsx's loader: no build step.
import { register } from 'tsx/esm/api';

register();
await import('./driftless.ts');
