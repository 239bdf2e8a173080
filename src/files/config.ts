import { Type } from 'typebox';
import { Bool, defineConfigSection } from '../platform/config/section.ts';

/** The files section of the configuration (see docs/files.md). */
export const filesConfig = defineConfigSection({
  name: 'files',
  title: 'Files: storage elements, uploads and scrubbing',
  variables: {
    FILES_ELEMENTS: Type.String({
      default: '',
      description:
        'Storage elements: JSON `[{"id","path","mode","capacity_bytes"}]` or `id:path:mode[:capacity],…` (capacity in bytes or with K/M/G/T; 0 or absent = the disk). Modes edit|rw|ro|ar. Relative paths are under DATA_DIR. Empty: one element `se-1` in DATA_DIR/files/se-1, mode edit.',
    }),
    FILES_MAX_UPLOAD_BYTES: Type.Integer({
      minimum: 1,
      maximum: 1099511627776,
      default: 5368709120,
      description:
        'Largest file POST /api/files accepts (413 beyond); bytes are streamed, never held in memory.',
    }),
    FILES_SCRUB_ENABLED: Bool(
      true,
      'Run the scheduled scrub (files check) from the worker, reported to metrics and the audit log.',
    ),
    FILES_SCRUB_INTERVAL_HOURS: Type.Integer({
      minimum: 1,
      maximum: 8760,
      default: 24,
      description: 'Hours between scheduled scrubs (checked hourly, once cluster-wide).',
    }),
    FILES_SCRUB_FULL: Bool(
      false,
      'Scheduled scrub re-hashes every file (full) instead of comparing sizes (quick).',
    ),
  },
});
