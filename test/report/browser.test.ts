/** A real browser opens a report offline: no console error, no failed request, every chart drawn. */
import fs from 'fs';
import os from 'os';
import path from 'path';

import { heatmapChart, scatterWithFitChart } from '../../src/report/charts';
import { writeReport } from '../../src/report/study-report';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { screenshotReport } = require('../../scripts/screenshot-report.js');

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const withBrowser = fs.existsSync(chromium) ? test : test.skip;

withBrowser('headless Chromium loads the report with no console errors and renders its SVG charts', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'browser-'));
  const classNames = ['T-shirt/top', 'Shirt', '<script>alert(1)</script>'];
  const written = await writeReport(
    {
      title: 'browser check',
      settings: { run: 'runs/<x>' },
      sections: [
        {
          id: 's',
          title: 'section',
          description: 'two charts',
          findings: ['one finding'],
          charts: [
            { spec: heatmapChart({ title: 'heatmap', classNames, rows: [[1, 0, 0], [0.5, 0.5, 0], [0, 0, 1]], xTitle: 'predicted', yTitle: 'true' }) },
            { spec: scatterWithFitChart({ title: 'scatter', points: classNames.map((c, k) => ({ className: c, x: k, y: 10 * k })), xTitle: 'x', yTitle: 'y' }) },
          ],
          tables: [],
          data: {},
        },
      ],
    },
    dir,
  );
  const png = path.join(dir, 'report.png');
  const { problems, svgCount } = await screenshotReport(written.html, png, 1200);
  expect(problems).toEqual([]);
  expect(svgCount).toBe(2);
  expect(fs.statSync(png).size).toBeGreaterThan(10000);
});
