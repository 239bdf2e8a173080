import { Link, useRouteError } from 'react-router';
import { ErrorBanner } from '../ui/Feedback.tsx';
import { Page } from '../ui/Page.tsx';

export function NotFound() {
  return (
    <Page title="Not found">
      <p>
        There is no such screen. <Link to="/">Back to the dashboard</Link>
      </p>
    </Page>
  );
}

/** A screen that failed to load (e.g. its chunk after a new deploy) or threw while rendering. */
export function RouteError() {
  const error = useRouteError();
  return (
    <main id="main" className="page">
      <h1>Something went wrong</h1>
      <ErrorBanner error={error} />
      <p>
        <a href="/admin/">Reload the panel</a>
      </p>
    </main>
  );
}

export function Forbidden({ permission }: { permission: string }) {
  return (
    <Page title="Not allowed">
      <p>
        Your role may not open this screen (it needs <code>{permission}</code>).{' '}
        <Link to="/">Back to the dashboard</Link>
      </p>
    </Page>
  );
}
