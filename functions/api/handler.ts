import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { createApi } from './app';
import { apiContext } from './context';

const api = createApi(apiContext());

export const handler = (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> =>
  api.handle(event, context);
