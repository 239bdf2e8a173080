import type { ComponentType } from 'react';

/** The sections of the navigation, in order. */
export const SECTIONS = ['Sales', 'Notify', 'Files', 'Access', 'Audit'] as const;
export type Section = (typeof SECTIONS)[number];

/**
 * One screen of the panel. Each area lists its own in `pages/<area>/routes.ts`; the page module is
 * loaded when first opened (one chunk per screen, so the first screen's bundle stays small).
 */
export interface PanelRoute {
  /** Below /admin/, react-router syntax (`events/:id`). */
  path: string;
  /** The permission needed to see it (GET /api/admin/me → permissions). */
  permission: string;
  /** In the navigation, when set. */
  nav?: { label: string; section: Section };
  load: () => Promise<{ default: ComponentType }>;
}
