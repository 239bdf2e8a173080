import { Page } from '../../ui/Page.tsx';

export default function SchedulesPage() {
  return (
    <Page title="Schedules">
      <p>This screen is being built.</p>
    </Page>
  );
}
