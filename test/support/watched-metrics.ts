import type { EmfLine } from './lambda-runtime';
import { renderIntrinsics } from './template';

/** A CloudWatch metric as CloudWatch tells metrics apart: namespace, name and every dimension. */
export interface MetricIdentity {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
}

/** `Driftless/driftRatio{service=driftless-batch,view=revenue}`: equal exactly for the same metric. */
export function metricKey(metric: MetricIdentity): string {
  const dimensions = Object.entries(metric.dimensions)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join(',');
  return `${metric.namespace}/${metric.name}{${dimensions}}`;
}

/** The metrics EMF lines publish: one per metric per dimension set, values from the line's members. */
export function emittedMetrics(lines: readonly EmfLine[]): MetricIdentity[] {
  return lines.flatMap((line) =>
    line._aws.CloudWatchMetrics.flatMap((directive) =>
      directive.Dimensions.flatMap((dimensionSet) =>
        directive.Metrics.map((metric) => ({
          namespace: directive.Namespace,
          name: metric.Name,
          dimensions: Object.fromEntries(dimensionSet.map((name) => [name, String(line[name])])),
        })),
      ),
    ),
  );
}

type Resource = { Type: string; Properties?: Record<string, unknown> };
type TemplateMetric = {
  Namespace?: string;
  MetricName?: string;
  Dimensions?: { Name: string; Value: unknown }[];
};

const fromTemplate = (metric: TemplateMetric): MetricIdentity => ({
  namespace: String(metric.Namespace),
  name: String(metric.MetricName),
  dimensions: Object.fromEntries(
    (metric.Dimensions ?? []).map(({ Name, Value }) => [Name, renderIntrinsics(Value)]),
  ),
});

/**
 * Every metric of `namespace` the template's alarms (their metric, or each metric of their `Metrics`)
 * and dashboards (each graph's `metrics` rows, `[namespace, name, dimension, value, ..., options]`)
 * watch, with where it is watched. Math and search expressions over the namespace cannot be checked
 * this way and are refused.
 */
export function watchedMetrics(
  template: { Resources: Record<string, Resource> },
  namespace: string,
): { readonly watcher: string; readonly metric: MetricIdentity }[] {
  const watched: { watcher: string; metric: MetricIdentity }[] = [];
  const refuseExpression = (watcher: string, expression: unknown) => {
    if (typeof expression === 'string' && expression.includes(namespace))
      throw new Error(`${watcher}: an expression over ${namespace} (${expression}) cannot be checked`);
  };
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const properties = resource.Properties ?? {};
    if (resource.Type === 'AWS::CloudWatch::Alarm') {
      const watcher = `alarm ${logicalId}`;
      if (properties.MetricName !== undefined) watched.push({ watcher, metric: fromTemplate(properties) });
      for (const query of (properties.Metrics as {
        Expression?: string;
        MetricStat?: { Metric: TemplateMetric };
      }[]) ?? []) {
        refuseExpression(watcher, query.Expression);
        if (query.MetricStat !== undefined)
          watched.push({ watcher, metric: fromTemplate(query.MetricStat.Metric) });
      }
    }
    if (resource.Type === 'AWS::CloudWatch::Dashboard') {
      const body = JSON.parse(renderIntrinsics(properties.DashboardBody)) as {
        widgets: { type: string; properties?: { title?: string; metrics?: unknown[][] } }[];
      };
      for (const widget of body.widgets) {
        const watcher = `dashboard ${logicalId} widget "${widget.properties?.title ?? widget.type}"`;
        for (const row of widget.properties?.metrics ?? []) {
          const parts = row.filter((part) => typeof part === 'string') as string[];
          for (const part of row)
            if (typeof part === 'object')
              refuseExpression(watcher, (part as { expression?: string }).expression);
          if (parts.length === 0) continue;
          if (parts.some((part) => part === '.' || part === '...'))
            throw new Error(`${watcher}: the "." shorthand is not read here`);
          const [rowNamespace = '', name = '', ...pairs] = parts;
          const dimensions: Record<string, string> = {};
          for (let index = 0; index + 1 < pairs.length; index += 2)
            dimensions[pairs[index] as string] = pairs[index + 1] as string;
          watched.push({ watcher, metric: { namespace: rowNamespace, name, dimensions } });
        }
      }
    }
  }
  return watched.filter(({ metric }) => metric.namespace === namespace);
}
