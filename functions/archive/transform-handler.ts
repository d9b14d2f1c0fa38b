import { NO_SERVICES } from '../commons/platform';
import { archiveTransformFunction } from './firehose-transform';

// No AWS platform: the transform reaches no service, so its bundle loads no SDK client.
export const handler = archiveTransformFunction.create(process.env, NO_SERVICES);
