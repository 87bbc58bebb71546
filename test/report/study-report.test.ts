/** The report files: self-contained HTML with SVG charts, escaped text from files, JSON and CSV beside it. */
import fs from 'fs';
import os from 'os';
import path from 'path';

import { heatmapChart, histogramChart } from '../../src/report/charts';
import { csvField, escapeHtml, toCsv } from '../../src/report/escape';
import { formatFindings, StudyReport, writeReport } from '../../src/report/study-report';

const hostile = '<img src=x onerror=alert(1)>&"shirt"';

function sampleReport(): StudyReport {
  const classNames = ['T-shirt/top', hostile];
  return {
    title: 'Study of runs/<x>',
    settings: { checkpoint: '/tmp/<script>.safetensors' },
    sections: [
      {
        id: 'confusion',
        title: 'Adversarial confusion',
        description: 'row = true class',
        findings: [`${hostile}: robust 31.2%`],
        charts: [
          { spec: heatmapChart({ title: 'confusion', classNames, rows: [[0.9, 0.1], [0.6, 0.4]], xTitle: 'predicted', yTitle: 'true' }) },
          { spec: histogramChart({ title: 'histogram', bins: [{ interval: '0-10%', count: 2 }], xTitle: 'robust', yTitle: 'classes' }) },
        ],
        tables: [{ title: 'Top targets', columns: ['class', 'share'], rows: [[hostile, 0.58], ['=SUM(A1)', 1]] }],
        data: { matrix: [[0.9, 0.1], [0.6, 0.4]], predictions: Int32Array.from([1, 0]) },
      },
    ],
  };
}

test('HTML, JSON and one CSV per table are written; the page has SVG charts and no script or remote resource', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'report-'));
  const written = await writeReport(sampleReport(), dir);
  const html = fs.readFileSync(written.html, 'utf8');
  expect((html.match(/<svg/g) ?? []).length).toBe(2);
  expect(html).not.toMatch(/<script|<img|src=["']?http/i);
  expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;&amp;&quot;shirt&quot;');
  expect(html).toContain('/tmp/&lt;script&gt;.safetensors');
  const json = JSON.parse(fs.readFileSync(written.json, 'utf8'));
  expect(json.sections[0].data.predictions).toEqual([1, 0]);
  expect(json.sections[0].charts).toBeUndefined();
  expect(written.csv.map((file) => path.basename(file))).toEqual(['confusion-top-targets.csv']);
  expect(fs.readFileSync(written.csv[0], 'utf8')).toBe(`class,share\n"<img src=x onerror=alert(1)>&""shirt""",0.58\n'=SUM(A1),1\n`);
});

test('escaping of HTML and CSV fields', () => {
  expect(escapeHtml(`a<b>&'"`)).toBe('a&lt;b&gt;&amp;&#39;&quot;');
  expect(csvField('a,b')).toBe('"a,b"');
  expect(csvField(-0.5)).toBe('-0.5');
  expect(csvField(NaN)).toBe('');
  expect(toCsv(['x'], [[1], [null]])).toBe('x\n1\n\n');
});

test('the terminal summary lists each finding under its section', () => {
  expect(formatFindings(sampleReport())).toBe(`Study of runs/<x>\n\nAdversarial confusion:\n  - ${hostile}: robust 31.2%`);
});
