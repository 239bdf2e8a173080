import type { BoxofficeModule } from './context.ts';
import type { ImportFileReport } from './import/report.ts';
import { SEED_PROFILES, type SeedContext, type SeedProfile } from './seeding.ts';

/** Runs every module's generator in registration order. */
export async function runSeed(
  modules: BoxofficeModule[],
  context: SeedContext,
  profile: SeedProfile,
): Promise<void> {
  const started = performance.now();
  for (const module of modules) {
    if (!module.seed) continue;
    context.logger.info({ module: module.name, profile }, 'seeding');
    await module.seed(context, profile);
  }
  context.logger.info(
    { profile: profile.name, seconds: Math.round((performance.now() - started) / 1000) },
    'seed complete',
  );
}

/** One file's report, with the module that read it. */
export interface ModuleImportReport extends ImportFileReport {
  module: string;
}

/** Loads a data release directory; every module takes the files it knows and reports on each. */
export async function runImport(
  modules: BoxofficeModule[],
  context: SeedContext,
  dir: string,
): Promise<ModuleImportReport[]> {
  const reports: ModuleImportReport[] = [];
  for (const module of modules) {
    if (!module.import) continue;
    for (const report of await module.import(context, dir)) {
      context.logger.info({ module: module.name, ...report }, 'imported');
      reports.push({ module: module.name, ...report });
    }
  }
  return reports;
}

/** The first start on an empty database seeds the demo profile, so there is something to see. */
export async function seedDemoIfEmpty(modules: BoxofficeModule[], context: SeedContext): Promise<boolean> {
  const withData = modules.filter((m) => m.hasData);
  if (withData.length === 0) return false;
  for (const module of withData) if (await module.hasData!(context.db)) return false;
  context.logger.info('empty database: seeding the demo data (boxoffice seed makes the full set)');
  await runSeed(modules, context, SEED_PROFILES.demo);
  return true;
}
