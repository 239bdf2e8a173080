import type { PanelRoute } from '../../app/panel-route.ts';

export const filesRoutes: PanelRoute[] = [
  {
    path: 'files',
    permission: 'files:read',
    nav: { label: 'Files', section: 'Files' },
    load: () => import('./FilesPage.tsx'),
  },
  {
    path: 'storage',
    permission: 'files:read',
    nav: { label: 'Storage elements', section: 'Files' },
    load: () => import('./StoragePage.tsx'),
  },
];
