import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { type ComponentType, StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createBrowserRouter, RouterProvider } from 'react-router';
import { Layout } from './app/Layout.tsx';
import { Forbidden, NotFound, RouteError } from './app/NotFound.tsx';
import { PANEL_ROUTES } from './app/routes.ts';
import { SignIn } from './app/SignIn.tsx';
import { SessionProvider, useSession } from './app/session.tsx';
import { Loading } from './ui/Feedback.tsx';
import './styles.css';

const queries = new QueryClient({
  defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: false, staleTime: 5_000 } },
});

const router = createBrowserRouter(
  [
    {
      path: '/',
      element: <Layout />,
      errorElement: <RouteError />,
      children: [
        ...PANEL_ROUTES.map((route) => ({
          path: route.path === '' ? undefined : route.path,
          index: route.path === '' ? (true as const) : undefined,
          lazy: async () => {
            const Screen = (await route.load()).default;
            return { Component: () => <Guarded permission={route.permission} screen={Screen} /> };
          },
        })),
        { path: '*', element: <NotFound /> },
      ],
    },
  ] as Parameters<typeof createBrowserRouter>[0],
  { basename: '/admin' },
);

/** A screen the role may not see (typed-in URL): said so; the server would refuse its calls anyway. */
function Guarded({ permission, screen: Screen }: { permission: string; screen: ComponentType }) {
  const { can } = useSession();
  if (!can(permission)) return <Forbidden permission={permission} />;
  return <Screen />;
}

function Root() {
  const { staff } = useSession();
  if (staff === undefined) return <Loading label="Opening the panel…" />;
  if (staff === null) return <SignIn />;
  return <RouterProvider router={router} />;
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queries}>
      <SessionProvider>
        <Root />
      </SessionProvider>
    </QueryClientProvider>
  </StrictMode>,
);
