import { describe, expect, it } from 'vitest';

import { BatchReport, FailureReason } from './batch.report';

describe(BatchReport.name, () => {
  it('reports every requested app as updated, sorted ascending, when nothing failed', () => {
    const report = new BatchReport([30, 4, 1000, 20]);
    expect(report.result()).toEqual({ updated: [4, 20, 30, 1000], failed: [] });
  });

  it('sorts app ids numerically, not as text', () => {
    const report = new BatchReport([100, 9, 25, 1000, 3]);
    report.fail(25, 'US', 'steam_error');
    report.fail(1000, 'US', 'steam_error');
    report.fail(3, 'US', 'steam_error');
    expect(report.result().updated).toEqual([9, 100]);
    expect(report.result().failed.map((failure) => failure.appId)).toEqual([3, 25, 1000]);
  });

  it('puts an app with one failed country in failed only, with just that country', () => {
    const report = new BatchReport([10, 20, 30]);
    report.fail(20, 'DE', 'steam_error');
    expect(report.result()).toEqual({
      updated: [10, 30],
      failed: [{ appId: 20, countries: ['DE'], reason: 'steam_error' }],
    });
  });

  it('puts every requested app in exactly one of the two lists', () => {
    const appIds = [7, 3, 11, 5, 2, 13];
    const report = new BatchReport(appIds);
    report.fail(11, 'US', 'backend_error');
    report.fail(2, 'GB', 'steam_error');
    report.fail(2, 'US', 'steam_error');
    const { updated, failed } = report.result();
    const failedIds = failed.map((failure) => failure.appId);
    expect([...updated, ...failedIds].sort((a, b) => a - b)).toEqual([2, 3, 5, 7, 11, 13]);
    expect(updated.filter((appId) => failedIds.includes(appId))).toEqual([]);
  });

  it('lists failed apps sorted ascending by app id', () => {
    const report = new BatchReport([300, 20, 1, 4000]);
    report.fail(4000, 'US', 'steam_error');
    report.fail(1, 'US', 'steam_error');
    report.fail(300, 'US', 'steam_error');
    expect(report.result().failed.map((failure) => failure.appId)).toEqual([1, 300, 4000]);
  });

  it('lists the failed countries of an app sorted, each once', () => {
    const report = new BatchReport([620]);
    for (const country of ['US', 'DE', 'BR', 'DE', 'AT']) report.fail(620, country, 'steam_error');
    expect(report.result()).toEqual({
      updated: [],
      failed: [{ appId: 620, countries: ['AT', 'BR', 'DE', 'US'], reason: 'steam_error' }],
    });
  });

  it.each<{ reasons: FailureReason[]; expected: FailureReason }>([
    { reasons: ['steam_error', 'backend_error'], expected: 'backend_error' },
    { reasons: ['backend_error', 'steam_error'], expected: 'backend_error' },
    { reasons: ['steam_error', 'backend_rejected'], expected: 'backend_rejected' },
    { reasons: ['backend_error', 'backend_rejected'], expected: 'backend_rejected' },
    { reasons: ['backend_rejected', 'backend_error', 'steam_error'], expected: 'backend_rejected' },
    { reasons: ['steam_error', 'steam_error'], expected: 'steam_error' },
  ])('reports $expected for an app that failed with $reasons in different countries', ({ reasons, expected }) => {
    const report = new BatchReport([42]);
    const countries = ['US', 'DE', 'FR'];
    reasons.forEach((reason, index) => report.fail(42, countries[index]!, reason));
    expect(report.result().failed).toEqual([
      { appId: 42, countries: countries.slice(0, reasons.length).sort(), reason: expected },
    ]);
  });

  it('keeps the reason of each app to itself', () => {
    const report = new BatchReport([1, 2, 3]);
    report.fail(1, 'US', 'backend_rejected');
    report.fail(2, 'US', 'steam_error');
    report.fail(3, 'US', 'backend_error');
    expect(report.result().failed).toEqual([
      { appId: 1, countries: ['US'], reason: 'backend_rejected' },
      { appId: 2, countries: ['US'], reason: 'steam_error' },
      { appId: 3, countries: ['US'], reason: 'backend_error' },
    ]);
  });

  it('gives the same result when asked twice', () => {
    const report = new BatchReport([3, 1, 2]);
    report.fail(2, 'US', 'steam_error');
    expect(report.result()).toEqual(report.result());
    expect(report.result()).toEqual({
      updated: [1, 3],
      failed: [{ appId: 2, countries: ['US'], reason: 'steam_error' }],
    });
  });

  it('tells its listener of every failed pair with its own reason', () => {
    const reasons: string[] = [];
    const report = new BatchReport([1, 2], (reason) => reasons.push(reason));
    report.fail(2, 'US', 'backend_rejected');
    report.fail(2, 'DE', 'steam_error');
    expect(reasons).toEqual(['backend_rejected', 'steam_error']);
  });
});
