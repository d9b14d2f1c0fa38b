import { awsPlatform } from '../commons/aws-platform';
import { speedFunction } from './config';

export const handler = speedFunction.create(process.env, awsPlatform());
