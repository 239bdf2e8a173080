import type { BoxofficeModule } from '../platform/context.ts';
import { filesRoutes } from './routes.ts';
import { scrubCron, scrubTasks } from './scrub.ts';
import { filesService, forgetFilesService } from './service.ts';

export { getFileInfo, openFileStream, putFile, type StoredFile } from './api.ts';
export { FilesTopics } from './events.ts';

/**
 * Files (seed 002, docs/files.md): storage elements with modes, the write protocol under a
 * write-ahead log with attr.json as the truth, streaming with ranges and checksums, search,
 * rebuild and scrub.
 */
export const filesModule: BoxofficeModule = {
  name: 'files',
  routes: filesRoutes,
  tasks: scrubTasks,
  cron: [scrubCron],
  // At boot, before HTTP: elements registered, journals replayed, no temporary file left.
  start: async (platform) => {
    const service = await filesService(platform);
    return {
      async stop() {
        await service.stop();
        forgetFilesService(platform);
      },
    };
  },
};
