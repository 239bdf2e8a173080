import { Page } from '../../ui/Page.tsx';

export default function TemplatesPage() {
  return (
    <Page title="Templates">
      <p>This screen is being built.</p>
    </Page>
  );
}
