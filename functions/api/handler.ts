import { awsPlatform } from '../commons/aws-platform';
import { apiFunction } from './context';

export const handler = apiFunction.create(process.env, awsPlatform());
