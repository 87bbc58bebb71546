/**
 * A study's report on disk: one self-contained HTML file (charts inlined as SVG, no scripts, no network),
 * the same numbers as JSON, one CSV per table, and the findings as plain text for the terminal.
 */
import fs from 'fs';
import path from 'path';

import { writeFileAtomic } from '../checkpoint';
import { ChartSpec, renderSvg } from './charts';
import { ROBUST_DEFINITION } from './class-table';
import { escapeHtml, slug, terminalText, toCsv } from './escape';
import { invalidArgument } from '../errors';

export interface ReportTable {
  title: string;
  columns: string[];
  rows: (string | number | null)[][];
  /** One line under the table, e.g. the definition of a column. */
  note?: string;
}

export interface ReportSection {
  /** Stable id: anchors, CSV file names, JSON keys. */
  id: string;
  title: string;
  /** What was measured and how (protocol, our settings), one paragraph. */
  description: string;
  /** Each finding one sentence with its numbers; printed in the terminal too. */
  findings: string[];
  charts: { spec: ChartSpec; caption?: string }[];
  tables: ReportTable[];
  /** Every number behind the section, written to the JSON file. */
  data: unknown;
}

export interface StudyReport {
  title: string;
  /** Settings as label -> value, shown on top (model, data, attacks, which settings are ours). */
  settings: Record<string, string>;
  sections: ReportSection[];
  createdAt?: string;
  /** Extra top-level keys of report.json (e.g. the fairness comparison's `runs`). */
  fields?: Record<string, unknown>;
}

export interface WrittenReport {
  html: string;
  json: string;
  csv: string[];
}

const STYLE = `
body{font:14px/1.45 Helvetica,Arial,sans-serif;color:#222;margin:24px auto;max-width:1180px;padding:0 16px}
h1{font-size:22px;margin:0 0 8px}h2{font-size:18px;margin:28px 0 6px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:14px;margin:14px 0 4px}
dl.settings{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:8px 0 16px;font-size:13px}
dl.settings dt{color:#555}dl.settings dd{margin:0}
ul.findings{background:#f5f8fc;border-left:4px solid #4c78a8;padding:8px 8px 8px 28px;margin:8px 0}
.charts{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}figure{margin:6px 0}figcaption{font-size:12px;color:#555;max-width:560px}
table{border-collapse:collapse;font-size:12.5px;margin:4px 0 2px}th,td{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}p.note{font-size:12px;color:#555;margin:2px 0 12px}
nav a{margin-right:12px}`;

/** Under every table and on top of the report: the one definition of robust accuracy and how intervals are given. */
export const TABLE_FOOTER = `${ROBUST_DEFINITION}. Intervals: 95% Wilson score intervals of each share (columns "95% low/high"; error bars in the charts).`;

function tableHtml(table: ReportTable): string {
  const head = table.columns.map((column) => `<th>${escapeHtml(column)}</th>`).join('');
  const body = table.rows
    // A number that is not finite is a share not available (a class without test examples).
    .map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(typeof cell === 'number' && !Number.isFinite(cell) ? 'n/a' : cell ?? '')}</td>`).join('')}</tr>`)
    .join('\n');
  const note = `<p class="note">${escapeHtml([table.note, TABLE_FOOTER].filter(Boolean).join(' '))}</p>`;
  return `<h3>${escapeHtml(table.title)}</h3>\n<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>${note}`;
}

/** The HTML document; every text from data is escaped, charts are Vega's SVG output. */
export async function renderReportHtml(report: StudyReport): Promise<string> {
  const sections: string[] = [];
  for (const section of report.sections) {
    const charts: string[] = [];
    for (const chart of section.charts) {
      const svg = await renderSvg(chart.spec);
      charts.push(`<figure>${svg}${chart.caption ? `<figcaption>${escapeHtml(chart.caption)}</figcaption>` : ''}</figure>`);
    }
    sections.push(
      [
        `<section id="${escapeHtml(section.id)}"><h2>${escapeHtml(section.title)}</h2>`,
        `<p>${escapeHtml(section.description)}</p>`,
        section.findings.length ? `<ul class="findings">${section.findings.map((f) => `<li>${escapeHtml(f)}</li>`).join('')}</ul>` : '',
        `<div class="charts">${charts.join('\n')}</div>`,
        section.tables.map(tableHtml).join('\n'),
        '</section>',
      ].join('\n'),
    );
  }
  const settings = Object.entries(report.settings)
    .map(([label, value]) => `<dt>${escapeHtml(label)}</dt><dd>${escapeHtml(value)}</dd>`)
    .join('');
  const nav = report.sections.map((s) => `<a href="#${escapeHtml(s.id)}">${escapeHtml(s.title)}</a>`).join('');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(report.title)}</title><style>${STYLE}</style></head>
<body><h1>${escapeHtml(report.title)}</h1>
<dl class="settings">${settings}</dl>
<p class="note">${escapeHtml(TABLE_FOOTER)}</p>
<nav>${nav}</nav>
${sections.join('\n')}
<p class="note">Written by classwise-at${report.createdAt ? ` on ${escapeHtml(report.createdAt)}` : ''}. Numbers: report.json and the CSV files beside this page.</p>
</body></html>
`;
}

/** The terminal summary: the settings, then each section's findings. */
export function formatFindings(report: StudyReport): string {
  // Findings quote class names and paths from files: escaped for the terminal.
  const lines = [terminalText(report.title)];
  for (const section of report.sections) {
    lines.push('', `${terminalText(section.title)}:`);
    for (const finding of section.findings) lines.push(`  - ${terminalText(finding)}`);
  }
  return lines.join('\n');
}

/** Writes report.html, report.json and csv/<section>-<table>.csv into `outDir` (atomically, file by file). */
export async function writeReport(report: StudyReport, outDir: string): Promise<WrittenReport> {
  if (!report || typeof report !== 'object' || !Array.isArray(report.sections)) throw invalidArgument('writeReport needs a StudyReport { title, settings, sections }');
  if (typeof outDir !== 'string') throw invalidArgument('writeReport needs the report folder as its second argument');
  fs.mkdirSync(path.join(outDir, 'csv'), { recursive: true });
  const stamped = { ...report, createdAt: report.createdAt ?? new Date().toISOString() };
  const html = path.join(outDir, 'report.html');
  writeFileAtomic(html, await renderReportHtml(stamped));
  const json = path.join(outDir, 'report.json');
  writeFileAtomic(
    json,
    JSON.stringify(
      {
        title: stamped.title,
        createdAt: stamped.createdAt,
        settings: stamped.settings,
        ...(stamped.fields ?? {}),
        sections: stamped.sections.map(({ charts: _charts, ...section }) => section),
      },
      (_key, value) => (ArrayBuffer.isView(value) ? Array.from(value as unknown as ArrayLike<number>) : value),
      1,
    ),
  );
  const csv: string[] = [];
  for (const section of stamped.sections) {
    for (const table of section.tables) {
      const file = path.join(outDir, 'csv', `${section.id}-${slug(table.title)}.csv`);
      writeFileAtomic(file, toCsv(table.columns, table.rows));
      csv.push(file);
    }
  }
  return { html, json, csv };
}
