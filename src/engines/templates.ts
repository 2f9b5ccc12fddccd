import type { AgentTemplate } from './types.js';

/** The checks a list of templates must pass, shared by every engine's schema and constructor. */
export function templateProblems(templates: readonly AgentTemplate[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  templates.forEach((template, index) => {
    const where = `templates[${index}]${template.name === '' ? '' : ` (${template.name})`}`;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(template.name)) {
      problems.push(`${where}.name: must be letters, digits, '.', '_' or '-', starting with a letter or digit`);
    }
    if (seen.has(template.name)) problems.push(`${where}.name: '${template.name}' is used by another template; names must be unique`);
    seen.add(template.name);
    const rules: [keyof AgentTemplate, 'positive' | 'count' | 'positive count'][] = [
      ['cpus', 'positive'],
      ['memoryMiB', 'positive count'],
      ['maxAgents', 'positive count'],
      ['minIdle', 'count'],
      ['idleMinutes', 'positive'],
      ['maxJobsPerAgent', 'count'],
    ];
    for (const [key, rule] of rules) {
      const value = template[key];
      if (typeof value !== 'number' || !Number.isFinite(value)) problems.push(`${where}.${key}: must be a number, got ${String(value)}`);
      else if (rule !== 'count' && value <= 0) problems.push(`${where}.${key}: must be a number above 0, got ${value}`);
      else if (rule !== 'positive' && (!Number.isInteger(value) || value < 0)) problems.push(`${where}.${key}: must be a whole number, got ${value}`);
    }
    if (template.minIdle > template.maxAgents) {
      problems.push(`${where}.minIdle: ${template.minIdle} is more than maxAgents (${template.maxAgents})`);
    }
    template.labels.forEach((label, i) => {
      if (label.trim() === '' || label.includes(',')) problems.push(`${where}.labels[${i}]: must be non-empty and without commas`);
    });
  });
  return problems;
}
