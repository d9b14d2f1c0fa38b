import { awsPlatform } from '../commons/aws-platform';
import { exportHasherFunction } from './hasher';

// Its own bundle: the hasher reads S3 and writes DynamoDB, nothing of the API.
export const handler = exportHasherFunction.create(process.env, awsPlatform());
