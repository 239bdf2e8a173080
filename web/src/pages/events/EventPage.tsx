import { Page } from '../../ui/Page.tsx';

export default function EventPage() {
  return (
    <Page title="Event">
      <p>This screen is being built.</p>
    </Page>
  );
}
