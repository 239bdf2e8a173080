import { Page } from '../../ui/Page.tsx';

export default function EventsPage() {
  return (
    <Page title="Events">
      <p>This screen is being built.</p>
    </Page>
  );
}
