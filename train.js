#!/usr/bin/env node
// `node train.js [options]` is `classwise-at train [options]`.
'use strict';
let cli;
try {
  cli = require('./dist/cli/main.js');
} catch (error) {
  console.error('classwise-at is not built yet: run `npm start` (sets everything up) or `npm run build`.');
  process.exit(1);
}
cli.main(['train', ...process.argv.slice(2)]);
