/**
 * Chart specifications (Vega-Lite) for the study's figures, and their rendering to SVG in Node with Vega
 * (no canvas, no browser). Class names travel as data, so Vega escapes them in the SVG it writes.
 */
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';

export type ChartSpec = TopLevelSpec;

/** Chart size in CSS pixels; wide enough for ten class names on an axis. */
const WIDTH = 560;
const HEIGHT = 300;
/** Tableau 10: ten colours told apart at a glance. */
const TABLEAU10 = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac'];
/** Tableau 20's second, lighter tone of each hue, for classes 11 to 20. */
const TABLEAU20_LIGHT = ['#9ecae9', '#ffbf79', '#ff9d98', '#88d27a', '#b7d7d3', '#f2cf5b', '#d6a5c9', '#fcbfd2', '#d8b5a5', '#79706e'];

/**
 * One colour per class shown, all different: Tableau 10, then lighter tones, then hues spread by the golden angle.
 * (A named Vega scheme reused its colours for 10 classes: T-shirt/top and Bag were both dark blue.)
 */
export function classPalette(count: number): string[] {
  const colours = [...TABLEAU10, ...TABLEAU20_LIGHT].slice(0, count);
  for (let k = colours.length; k < count; k++) {
    const hue = Math.round((k * 137.508) % 360);
    colours.push(`hsl(${hue}, ${k % 2 ? 55 : 70}%, ${k % 3 === 0 ? 38 : 52}%)`);
  }
  return colours;
}

/** A value not available (a class without test examples: NaN, or null from JSON) is left out of every chart. */
function drawn(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value);
}

const CONFIG = {
  font: 'Helvetica, Arial, sans-serif',
  axis: { labelFontSize: 12, titleFontSize: 13, labelLimit: 160 },
  legend: { labelFontSize: 12, titleFontSize: 12, labelLimit: 160 },
  title: { fontSize: 14, anchor: 'start' as const },
  view: { stroke: null },
};

export interface CurvePoint {
  className: string;
  x: number;
  value: number;
  /** 95% interval of value, drawn as an error bar when given. */
  low?: number;
  high?: number;
}

export interface BandPoint {
  x: number;
  best: number;
  worst: number;
}

/** Per-class lines over x (epochs, temperatures), with the best-to-worst band shaded when given. */
export function classCurvesChart(options: {
  title: string;
  points: CurvePoint[];
  band?: BandPoint[];
  xTitle: string;
  yTitle: string;
  classOrder?: string[];
  /** Default 0..100 (percent). */
  yDomain?: [number, number];
  legendTitle?: string;
  /** x is a count (epochs): whole-number ticks. */
  integerX?: boolean;
}): ChartSpec {
  options = { ...options, points: options.points.filter((p) => drawn(p.value)), band: options.band?.filter((b) => drawn(b.best) && drawn(b.worst)) };
  const layers: unknown[] = [];
  // Every class shown gets its own colour, in the legend's order.
  const classDomain = options.classOrder ?? [...new Set(options.points.map((p) => p.className))];
  // Ticks exactly at the measured x values (epochs): no 1.5 rounded to a second "2".
  const xAxis = options.integerX ? { values: [...new Set(options.points.map((p) => p.x))].sort((a, b) => a - b), format: 'd' } : {};
  if (options.band) {
    layers.push({
      data: { values: options.band },
      mark: { type: 'area', opacity: 0.18, color: '#4c78a8' },
      encoding: {
        x: { field: 'x', type: 'quantitative', axis: xAxis },
        y: { field: 'worst', type: 'quantitative' },
        y2: { field: 'best' },
      },
    });
  }
  const withIntervals = options.points.filter((p) => p.low !== undefined && p.high !== undefined);
  if (withIntervals.length) {
    layers.push({
      data: { values: withIntervals },
      mark: { type: 'rule', opacity: 0.55 },
      encoding: {
        x: { field: 'x', type: 'quantitative' },
        y: { field: 'low', type: 'quantitative' },
        y2: { field: 'high' },
        // Same field and scale as the lines: Vega-Lite merges the two into one legend (legend: null here would
        // remove the merged legend, lines included).
        color: { field: 'className', type: 'nominal', scale: { domain: classDomain, range: classPalette(classDomain.length) } },
      },
    });
  }
  layers.push({
    data: { values: options.points },
    mark: { type: 'line', point: true, strokeWidth: 2 },
    encoding: {
      // The x range is the measured one (epochs from 1, temperatures from 0.5), not stretched to 0.
      x: { field: 'x', type: 'quantitative', title: options.xTitle, axis: xAxis, scale: { zero: false } },
      y: { field: 'value', type: 'quantitative', title: options.yTitle, scale: { domain: options.yDomain ?? [0, 100] } },
      color: { field: 'className', type: 'nominal', title: options.legendTitle ?? 'class', scale: { domain: classDomain, range: classPalette(classDomain.length) }, sort: options.classOrder ?? null },
      tooltip: [{ field: 'className', title: 'class' }, { field: 'x' }, { field: 'value', format: '.1f' }],
    },
  });
  return { title: options.title, width: WIDTH, height: HEIGHT, layer: layers, config: CONFIG } as ChartSpec;
}

/** Row-normalised matrix as a heatmap with the percentage written in every cell of 5% or more. */
export function heatmapChart(options: { title: string; classNames: string[]; rows: number[][]; xTitle: string; yTitle: string }): ChartSpec {
  const values = options.rows.flatMap((row, i) =>
    row.map((share, j) => ({ row: options.classNames[i], column: options.classNames[j], percent: 100 * share })),
  );
  const size = Math.max(260, Math.min(WIDTH, 36 * options.classNames.length));
  const axis = (title: string) => ({ field: title === 'row' ? 'row' : 'column', type: 'nominal', sort: options.classNames });
  return {
    title: options.title,
    width: size,
    height: size,
    data: { values },
    encoding: {
      x: { ...axis('column'), title: options.xTitle, axis: { labelAngle: -40 } },
      y: { ...axis('row'), title: options.yTitle },
    },
    layer: [
      {
        mark: 'rect',
        encoding: {
          color: { field: 'percent', type: 'quantitative', title: '% of row', scale: { range: ['#ffffff', '#08519c'], domain: [0, 100] } },
          tooltip: [{ field: 'row', title: 'true' }, { field: 'column', title: 'predicted' }, { field: 'percent', format: '.1f' }],
        },
      },
      {
        transform: [{ filter: 'datum.percent >= 5' }],
        mark: { type: 'text', fontSize: 11 },
        encoding: {
          text: { field: 'percent', type: 'quantitative', format: '.0f' },
          color: { condition: { test: 'datum.percent > 55', value: 'white' }, value: 'black' },
        },
      },
    ],
    config: CONFIG,
  } as ChartSpec;
}

/** Scatter of one point per class, labelled, with the least-squares line Vega-Lite fits. */
export function scatterWithFitChart(options: { title: string; points: { className: string; x: number; y: number }[]; xTitle: string; yTitle: string }): ChartSpec {
  options = { ...options, points: options.points.filter((p) => drawn(p.x) && drawn(p.y)) };
  const x = { field: 'x', type: 'quantitative', title: options.xTitle, scale: { zero: false } };
  const y = { field: 'y', type: 'quantitative', title: options.yTitle, scale: { zero: false } };
  return {
    title: options.title,
    width: WIDTH,
    height: HEIGHT,
    data: { values: options.points },
    layer: [
      { mark: { type: 'point', filled: true, size: 70 }, encoding: { x, y, tooltip: [{ field: 'className', title: 'class' }, { field: 'x', format: '.3f' }, { field: 'y', format: '.1f' }] } },
      { mark: { type: 'text', align: 'left', dx: 7, fontSize: 11 }, encoding: { x, y, text: { field: 'className' } } },
      { transform: [{ regression: 'y', on: 'x' }], mark: { type: 'line', color: '#e45756', strokeDash: [6, 3] }, encoding: { x, y } },
    ],
    config: CONFIG,
  } as ChartSpec;
}

/** Scatter of labelled points coloured by group (methods on a clean/robust trade-off plane). */
export function tradeoffScatterChart(options: { title: string; points: { label: string; group: string; x: number; y: number }[]; xTitle: string; yTitle: string }): ChartSpec {
  options = { ...options, points: options.points.filter((p) => drawn(p.x) && drawn(p.y)) };
  // Padding keeps the extreme points and their labels inside the plot.
  const x = { field: 'x', type: 'quantitative', title: options.xTitle, scale: { zero: false, nice: true, padding: 30 } };
  const y = { field: 'y', type: 'quantitative', title: options.yTitle, scale: { zero: false, nice: true, padding: 20 } };
  const groups = [...new Set(options.points.map((p) => p.group))];
  return {
    title: options.title,
    width: WIDTH,
    height: HEIGHT,
    data: { values: options.points },
    layer: [
      {
        mark: { type: 'point', filled: true, size: 80 },
        encoding: {
          x, y,
          color: { field: 'group', type: 'nominal', title: null, sort: groups, scale: { domain: groups, range: classPalette(groups.length) }, legend: { orient: 'top', labelLimit: 320 } },
          tooltip: [{ field: 'label' }, { field: 'group' }, { field: 'x', format: '.1f' }, { field: 'y', format: '.1f' }],
        },
      },
      { mark: { type: 'text', align: 'left', dx: 7, fontSize: 10 }, encoding: { x, y, text: { field: 'label' } } },
    ],
    config: CONFIG,
  } as ChartSpec;
}

/** Bars per class, one bar per group (attack, model, before/after) side by side; low/high draw 95% error bars. */
export function groupedBarsChart(options: {
  title: string;
  rows: { className: string; group: string; value: number; low?: number; high?: number }[];
  yTitle: string;
  classOrder: string[];
  xTitle?: string;
}): ChartSpec {
  options = { ...options, rows: options.rows.filter((row) => drawn(row.value)) };
  const groups = [...new Set(options.rows.map((row) => row.group))];
  const categories = options.classOrder.length;
  return {
    title: options.title,
    // Few categories carry long labels (attack names, written flat): give each about 230 pixels.
    width: categories > 4 ? Math.min(1080, categories * Math.max(40, 18 * groups.length)) : Math.max(260, 230 * categories),
    height: HEIGHT,
    data: { values: options.rows },
    encoding: {
      x: { field: 'className', type: 'nominal', title: options.xTitle ?? 'class', sort: options.classOrder, axis: { labelAngle: categories > 4 ? -40 : 0, labelLimit: 260 } },
      xOffset: { field: 'group', type: 'nominal', sort: groups },
    },
    layer: [
      {
        mark: 'bar',
        encoding: {
          y: { field: 'value', type: 'quantitative', title: options.yTitle },
          color: { field: 'group', type: 'nominal', title: null, sort: groups, scale: { scheme: 'tableau10' }, legend: { orient: 'top', labelLimit: 320 } },
          tooltip: [{ field: 'className', title: 'class' }, { field: 'group' }, { field: 'value', format: '.1f' }, { field: 'low', title: '95% low', format: '.1f' }, { field: 'high', title: '95% high', format: '.1f' }],
        },
      },
      ...(options.rows.some((row) => row.low !== undefined && row.high !== undefined)
        ? [{ transform: [{ filter: 'isValid(datum.low) && isValid(datum.high)' }], mark: { type: 'rule', color: '#333' }, encoding: { y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' } } }]
        : []),
    ],
    config: CONFIG,
  } as ChartSpec;
}

/** Counts per interval, e.g. classes per robust-accuracy interval. */
export function histogramChart(options: { title: string; bins: { interval: string; count: number }[]; xTitle: string; yTitle: string }): ChartSpec {
  return {
    title: options.title,
    width: WIDTH,
    height: 220,
    data: { values: options.bins },
    mark: { type: 'bar', color: '#4c78a8' },
    encoding: {
      x: { field: 'interval', type: 'ordinal', title: options.xTitle, sort: null, axis: { labelAngle: 0 } },
      y: { field: 'count', type: 'quantitative', title: options.yTitle, axis: { tickMinStep: 1 } },
      tooltip: [{ field: 'interval' }, { field: 'count' }],
    },
    config: CONFIG,
  } as ChartSpec;
}

/** The SVG text of a chart (Vega's headless renderer; text is measured by estimation, no canvas needed). */
export async function renderSvg(spec: ChartSpec): Promise<string> {
  const compiled = vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
