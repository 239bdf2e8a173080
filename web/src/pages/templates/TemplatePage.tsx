import { Page } from '../../ui/Page.tsx';

export default function TemplatePage() {
  return (
    <Page title="Template">
      <p>This screen is being built.</p>
    </Page>
  );
}
