import { awsPlatform } from '../commons/aws-platform';
import { archiveMarkerFunction } from './marker';

// Its own bundle: the marker runs on every archive object, so it loads only the DynamoDB client.
export const handler = archiveMarkerFunction.create(process.env, awsPlatform());
