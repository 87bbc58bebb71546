/**
 * Rebuilds a report from its report.json: every section keeps the numbers behind it (`data`), so charts
 * and tables can be redrawn without running the model again.
 */
import fs from 'fs';

import { ClasswiseError } from '../errors';
import { ReportSection, StudyReport } from '../report/study-report';
import { attackStrengthSection } from './attack-strength';
import { classRemovalSection } from './class-removal';
import { confusionSection } from './confusion';
import { fairnessJsonRuns, fairnessSection, FairnessStudy } from './fairness';
import { robustnessOverEpochsSection } from './epochs';
import { mitigationSection } from './mitigation';
import { studyError } from './run-folder';
import { temperatureSection } from './temperature';
import { weightNormSection } from './weight-norm';

const BUILDERS: Record<string, (data: never) => ReportSection> = {
  epochs: robustnessOverEpochsSection,
  confusion: confusionSection,
  'class-removal': classRemovalSection,
  'weight-norm': weightNormSection,
  'attack-strength': attackStrengthSection,
  temperature: temperatureSection,
  mitigation: mitigationSection,
  fairness: fairnessSection,
};

interface SavedReport {
  title: string;
  settings: Record<string, string>;
  sections: { id: string; data: unknown }[];
}

/** One report from one or more report.json files; a section of a later file replaces the same section of an earlier one. */
export function reportFromJson(files: string[]): StudyReport {
  if (files.length === 0) throw studyError('no report.json given', 'ERR_INVALID_ARGUMENT');
  const bySection = new Map<string, ReportSection>();
  let first: SavedReport | undefined;
  for (const file of files) {
    if (!fs.existsSync(file)) throw studyError(`${file} not found: pass the report.json written by a study command`, 'ERR_STUDY');
    const notReport = (why: string) => studyError(`${file} is not a report.json written by a study command (${why}); pass the report.json of a study folder`, 'ERR_STUDY');
    if (fs.statSync(file).isDirectory()) throw notReport('it is a folder');
    let saved: SavedReport;
    try {
      saved = JSON.parse(fs.readFileSync(file, 'utf8')) as SavedReport;
    } catch {
      throw notReport('it is not JSON');
    }
    if (!saved || typeof saved !== 'object' || typeof saved.title !== 'string' || !Array.isArray(saved.sections)) throw notReport('it has no title and sections');
    first ??= saved;
    for (const section of saved.sections) {
      const build = section && typeof section === 'object' ? BUILDERS[section.id] : undefined;
      if (!build) throw studyError(`${file}: unknown section ${JSON.stringify(section?.id)}`, 'ERR_STUDY');
      try {
        bySection.set(section.id, build(section.data as never));
      } catch (error) {
        if (error instanceof ClasswiseError) throw error;
        throw notReport(`its section "${section.id}" lacks the numbers it is drawn from`);
      }
    }
  }
  const order = Object.keys(BUILDERS);
  const sections = [...bySection.values()].sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id));
  const fairness = bySection.get('fairness');
  const fields = fairness ? { runs: fairnessJsonRuns(fairness.data as FairnessStudy) } : undefined;
  return { title: first!.title, settings: first!.settings, sections, ...(fields ? { fields } : {}) };
}
