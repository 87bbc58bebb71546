import { csvField, terminalText } from '../../src/report/escape';
import { formatClassTable } from '../../src/report/class-table';

describe('CSV fields cannot start a spreadsheet formula', () => {
  test.each([
    ["-1+cmd|' /C calc'!A0", "'-1+cmd|' /C calc'!A0"],
    ['+1+1', "'+1+1"],
    ['=SUM(A1)', "'=SUM(A1)"],
    ['@x', "'@x"],
    ['\tx', "'\tx"],
    ['1-2', '1-2'],
  ])('text %j is written as %j', (text, written) => {
    expect(csvField(text)).toBe(written);
  });

  test('a carriage return at the start is prefixed and the field quoted', () => {
    expect(csvField('\r=1')).toBe(`"'\r=1"`);
  });

  test.each(['-1', '+1.5', '-0.25e-3', '3'])('the number %j as text stays as it is', (text) => {
    expect(csvField(text)).toBe(text);
  });
});

describe('class names in console output', () => {
  test('control and bidirectional characters are escaped', () => {
    expect(terminalText('a\u001b[2Jb')).toBe('a\\u001b[2Jb');
    expect(terminalText('evil\u202egnp.exe')).toBe('evil\\u202egnp.exe');
    expect(terminalText('line\nbreak\u0000')).toBe('line\\u000abreak\\u0000');
    expect(terminalText('T-shirt/top é')).toBe('T-shirt/top é');
  });

  test('the per-class table prints escaped names', () => {
    const table = formatClassTable([
      { name: 'x\u001b]0;pwned\u0007', count: 1, clean: 1, robust: 1 },
      { name: 'y\u2066', count: 1, clean: 0, robust: 0 },
    ], { attackLabel: 'PGD-20' });
    expect(table).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/u);
    expect(table).toContain('x\\u001b]0;pwned\\u0007');
    expect(table).toContain('best: x\\u001b]0;pwned\\u0007 100.0%');
    expect(table).toContain('worst: y\\u2066 0.0%');
  });
});

test('the study findings printed to the console escape class names', () => {
  const { formatFindings } = require('../../src/report/study-report') as typeof import('../../src/report/study-report');
  const text = formatFindings({ title: 'Study of r', settings: {}, sections: [{ id: 'c', title: 'C', findings: ['shirt\u001b[31m: robust 1%'], tables: [] }] } as never);
  expect(text).toBe('Study of r\n\nC:\n  - shirt\\u001b[31m: robust 1%');
});
