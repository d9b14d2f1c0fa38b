import { driftReportKey, driftReportPartition } from '../../core/keys';
import { getJson, latestJson, putJson } from '../json-records';
import type { Table } from '../table';

/** What reconcile found per view and run (`functions/batch/reconcile.ts` shapes them). */
export class DriftReports {
  constructor(private readonly table: Table) {}

  async put(viewName: string, runId: string, report: unknown): Promise<void> {
    await putJson(this.table, driftReportKey(viewName, runId), 'report', report);
  }

  /** One run's drift report for a view; null if it did not reconcile (yet). */
  get(viewName: string, runId: string): Promise<unknown> {
    return getJson(this.table, driftReportKey(viewName, runId), 'report');
  }

  /** The latest drift reports of a view, newest first. */
  latest(viewName: string, limit: number): Promise<unknown[]> {
    return latestJson(this.table, driftReportPartition(viewName), 'report', limit);
  }
}
