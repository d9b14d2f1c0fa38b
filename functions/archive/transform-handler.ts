import { awsPlatform } from '../commons/aws-platform';
import { archiveTransformFunction } from './firehose-transform';

export const handler = archiveTransformFunction.create(process.env, awsPlatform());
