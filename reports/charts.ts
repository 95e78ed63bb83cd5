// The report's charts, rendered to SVG when the report is built (ECharts' server-side SVG
// renderer): the HTML embeds them inline, so they show offline, print, and need no script. Text in
// the SVG is escaped by the renderer; fonts are the system's sans-serif (nothing is fetched).
import * as echarts from 'echarts';
import { DISCREPANCY_CLASSES } from './columns.js';
import type { TrendPoint } from './report-model.js';
import type { Bucket, ReportSummary } from './report-summary.js';

export interface Chart {
  id: string;
  title: string;
  svg: string;
}

const CLASS_COLOURS: Record<string, string> = {
  missing_in_erp: '#d9534f',
  missing_in_crm: '#f0ad4e',
  field_mismatch: '#5070dd',
  duplicate_match: '#9b59b6',
  deleted_in_one: '#6c757d',
  unverifiable: '#adb5bd',
};

function render(option: echarts.EChartsOption, width: number, height: number): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    chart.setOption({ animation: false, textStyle: { fontFamily: 'sans-serif' }, ...option });
    return chart.renderToSVGString();
  } finally {
    // Disposing stops ECharts' frame loop, which would otherwise keep the process alive.
    chart.dispose();
  }
}

const GRID = { left: 110, right: 24, top: 40, bottom: 40, containLabel: false };

export function entityClassChart(s: ReportSummary): Chart {
  const entities = Object.keys(s.byEntity);
  return {
    id: 'chart-entity-class',
    title: 'Discrepancies by entity and class',
    svg: render(
      {
        legend: { top: 4 },
        grid: GRID,
        xAxis: { type: 'value', minInterval: 1 },
        yAxis: { type: 'category', data: entities, inverse: true },
        series: DISCREPANCY_CLASSES.map((c) => ({
          name: c,
          type: 'bar',
          stack: 'all',
          color: CLASS_COLOURS[c],
          data: entities.map((e) => s.byEntity[e]?.[c] ?? 0),
        })),
      },
      720,
      Math.max(200, 60 + entities.length * 36),
    ),
  };
}

/** One chart per currency (the four with the most at stake): amounts are never added across currencies. */
export function moneyByEntityCharts(s: ReportSummary): Chart[] {
  const currencies = Object.entries(s.moneyAtStake)
    .sort(([, a], [, b]) => Number(b) - Number(a))
    .slice(0, 4)
    .map(([c]) => c);
  const entities = Object.keys(s.byEntity);
  return currencies.map((cur, i) => ({
    id: `chart-money-${i}`,
    title: `Money impact by entity, ${cur}`,
    svg: render(
      {
        grid: { ...GRID, right: 96 },
        xAxis: { type: 'value' },
        yAxis: { type: 'category', data: entities, inverse: true },
        series: [
          {
            name: cur,
            type: 'bar',
            color: '#2e8b57',
            data: entities.map((e) => Number(s.moneyByEntity[e]?.[cur] ?? 0)),
            label: { show: true, position: 'right', formatter: (p: { value: unknown }) => String(p.value) },
          },
        ],
      },
      560,
      Math.max(180, 60 + entities.length * 32),
    ),
  }));
}

function bucketChart(id: string, title: string, buckets: Bucket[], colour: string): Chart {
  return {
    id,
    title,
    svg: render(
      {
        grid: { left: 48, right: 16, top: 24, bottom: 40 },
        xAxis: { type: 'category', data: buckets.map((b) => b.bucket) },
        yAxis: { type: 'value', minInterval: 1 },
        series: [
          {
            type: 'bar',
            color: colour,
            data: buckets.map((b) => b.count),
            label: { show: true, position: 'top' },
          },
        ],
      },
      420,
      240,
    ),
  };
}

export function agingCharts(s: ReportSummary): Chart[] {
  return [
    bucketChart('chart-aging-runs', 'Aging: runs open', s.agingRuns, '#5070dd'),
    bucketChart('chart-aging-days', 'Aging: days since first seen', s.agingDays, '#f0ad4e'),
  ];
}

export function trendChart(trend: readonly TrendPoint[]): Chart {
  const labels = trend.map((t) => t.startedAt.toISOString().slice(0, 16).replace('T', ' '));
  return {
    id: 'chart-trend',
    title: `Trend over the last ${trend.length} run${trend.length === 1 ? '' : 's'}`,
    svg: render(
      {
        legend: { top: 4 },
        grid: { left: 56, right: 24, top: 40, bottom: 72 },
        xAxis: { type: 'category', data: labels, axisLabel: { rotate: 30 } },
        yAxis: { type: 'value', minInterval: 1 },
        series: [
          { name: 'discrepancies', type: 'line', color: '#5070dd', data: trend.map((t) => t.discrepancies) },
          { name: 'material', type: 'line', color: '#d9534f', data: trend.map((t) => t.material) },
          { name: 'accepted', type: 'line', color: '#2e8b57', data: trend.map((t) => t.accepted) },
        ],
      },
      720,
      300,
    ),
  };
}

/** A small line of counts for the overview's table (no axes). */
export function sparkline(values: readonly number[]): string {
  return render(
    {
      grid: { left: 2, right: 2, top: 4, bottom: 4 },
      xAxis: { type: 'category', show: false, data: values.map((_, i) => String(i)) },
      yAxis: { type: 'value', show: false, min: 0 },
      series: [{ type: 'line', symbol: 'none', color: '#5070dd', data: [...values] }],
    },
    160,
    36,
  );
}
