import { Ajv2020 } from 'ajv/dist/2020.js';
import { expect } from 'vitest';
import { openApiDocument } from '../../functions/api/openapi';

export interface ApiAnswer {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: answers are checked against the OpenAPI schema, then read freely
  readonly body: any;
  readonly headers: Headers;
}

type Operation = { responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }> };
type OpenApi = {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, object> };
};

/**
 * Calls the API over HTTP, with `apiKey` as x-api-key, and checks each answer against the OpenAPI
 * document: the path template's operation must list the status, and the body must match its schema.
 */
export function apiClient(baseUrl: string, viewNames: readonly string[], apiKey: string) {
  const document = openApiDocument(viewNames) as OpenApi;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema({ $id: 'api', components: document.components });
  const compiled = new Map<object, ReturnType<typeof ajv.compile>>();
  const validatorOf = (schema: object) => {
    let validate = compiled.get(schema);
    if (validate === undefined) {
      // Resolve the document's local references against the registered document.
      validate = ajv.compile(
        JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"api#/components/')),
      );
      compiled.set(schema, validate);
    }
    return validate;
  };
  const templates = Object.keys(document.paths).map((template) => ({
    template,
    pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
  }));

  const check = (method: string, path: string, answer: ApiAnswer) => {
    const template = templates.find(({ pattern }) => pattern.test(path))?.template;
    if (template === undefined) return; // an unknown route: its 404 is checked by the caller
    const operation = document.paths[template]?.[method.toLowerCase()];
    const response = operation?.responses[String(answer.status)];
    expect(response, `${method} ${template} documents status ${answer.status}`).toBeDefined();
    const schema = response?.content?.['application/json']?.schema;
    if (schema === undefined) return;
    const validate = validatorOf(schema);
    const valid = validate(answer.body);
    expect(valid, `${method} ${path} ${answer.status}: ${ajv.errorsText(validate.errors)}`).toBe(true);
  };

  return async (method: string, path: string, body?: unknown): Promise<ApiAnswer> => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { 'x-api-key': apiKey, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON: left as text for the caller's assertion.
    }
    const answer = { status: response.status, body: parsed, headers: response.headers };
    check(method, new URL(`${baseUrl}${path}`).pathname, answer);
    return answer;
  };
}
