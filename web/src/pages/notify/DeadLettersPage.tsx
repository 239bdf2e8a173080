import { Page } from '../../ui/Page.tsx';

export default function DeadLettersPage() {
  return (
    <Page title="Dead letters">
      <p>This screen is being built.</p>
    </Page>
  );
}
