export { type DeadLetter, listDeadLetters, retryDeadLetter } from './dead-letters.ts';
export { migrateJobQueue } from './migrate.ts';
export { type EnqueueOptions, JobQueue } from './queue.ts';
export { type CronSchedule, type JobHandler, type JobRunner, startJobRunner } from './runner.ts';
