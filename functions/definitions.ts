import { apiFunction } from './api/context';
import { archiveTransformFunction } from './archive/firehose-transform';
import { batchFunctions } from './batch/context';
import { archiveMarkerFunction } from './batch/marker';
import type { FunctionDefinition } from './commons/function';
import { exportHasherFunction } from './exports/hasher';
import { speedFunction } from './speed/config';

/** Every Lambda function the stack deploys, by the name the template records it under. */
export const FUNCTION_DEFINITIONS: ReadonlyMap<string, FunctionDefinition> = new Map(
  [
    speedFunction,
    archiveTransformFunction,
    apiFunction,
    ...Object.values(batchFunctions),
    archiveMarkerFunction,
    exportHasherFunction,
  ].map((definition) => [definition.name, definition as FunctionDefinition]),
);
