import type { Queryable } from '../platform/db/client.ts';
import type { StoredDefinition } from './template-cache.ts';

/**
 * The templates of the platform's own messages to buyers, in Russian and English (`<name>.ru`, `<name>.en`),
 * made at start when missing. Staff may edit them like any template (a new version); a start never
 * overwrites an edit.
 */
type Locale = 'ru' | 'en';

interface DefaultTemplate {
  name: string;
  variables: StoredDefinition['variables'];
  text: Record<Locale, { subject: string; html: string; push: { title: string; body: string } }>;
}

const bookingVars = [
  { name: 'first_name', sample: 'Анна' },
  { name: 'booking_id', required: true, sample: 42 },
  { name: 'event_title', required: true, sample: 'Лебединое озеро' },
  { name: 'event_starts_at', sample: '2027-03-01 19:00' },
  { name: 'amount', sample: '4500.00' },
  { name: 'currency', sample: 'RUB' },
  { name: 'tickets_url', sample: 'http://localhost:3000/api/bookings/42/tickets.pdf' },
];

const DEFAULTS: DefaultTemplate[] = [
  {
    name: 'booking-paid',
    variables: bookingVars,
    text: {
      ru: {
        subject: 'Заказ №{{ booking_id }} оплачен: {{ event_title }}',
        html: '<p>{% if first_name %}{{ first_name }}, с{% else %}С{% endif %}пасибо за покупку!</p><p>Заказ №{{ booking_id }} на «{{ event_title }}»{% if event_starts_at %} ({{ event_starts_at }}){% endif %} оплачен{% if amount %}: {{ amount }} {{ currency }}{% endif %}.</p>{% if tickets_url %}<p><a href="{{ tickets_url }}">Электронные билеты</a></p>{% endif %}',
        push: { title: 'Заказ №{{ booking_id }} оплачен', body: '{{ event_title }}: билеты готовы' },
      },
      en: {
        subject: 'Booking #{{ booking_id }} is paid: {{ event_title }}',
        html: '<p>{% if first_name %}{{ first_name }}, thank{% else %}Thank{% endif %} you for your purchase!</p><p>Booking #{{ booking_id }} for “{{ event_title }}”{% if event_starts_at %} ({{ event_starts_at }}){% endif %} is paid{% if amount %}: {{ amount }} {{ currency }}{% endif %}.</p>{% if tickets_url %}<p><a href="{{ tickets_url }}">Your e-tickets</a></p>{% endif %}',
        push: {
          title: 'Booking #{{ booking_id }} is paid',
          body: '{{ event_title }}: your tickets are ready',
        },
      },
    },
  },
  {
    name: 'payment-failed',
    variables: [
      ...bookingVars.filter((v) => v.name !== 'tickets_url'),
      { name: 'reason', sample: 'declined' },
    ],
    text: {
      ru: {
        subject: 'Оплата заказа №{{ booking_id }} не прошла',
        html: '<p>Оплата заказа №{{ booking_id }} на «{{ event_title }}» не прошла{% if reason %} ({{ reason }}){% endif %}. Деньги не списаны. Места освобождены; вы можете забронировать их снова.</p>',
        push: { title: 'Оплата не прошла', body: 'Заказ №{{ booking_id }}: {{ event_title }}' },
      },
      en: {
        subject: 'The payment for booking #{{ booking_id }} failed',
        html: '<p>The payment for booking #{{ booking_id }} for “{{ event_title }}” did not go through{% if reason %} ({{ reason }}){% endif %}. No money was taken. The seats are released; you may book them again.</p>',
        push: { title: 'Payment failed', body: 'Booking #{{ booking_id }}: {{ event_title }}' },
      },
    },
  },
  {
    name: 'refund-done',
    variables: bookingVars.filter((v) => v.name !== 'tickets_url'),
    text: {
      ru: {
        subject: 'Возврат по заказу №{{ booking_id }}',
        html: '<p>Деньги за заказ №{{ booking_id }} на «{{ event_title }}»{% if amount %} ({{ amount }} {{ currency }}){% endif %} возвращены на карту. Билеты аннулированы.</p>',
        push: { title: 'Возврат выполнен', body: 'Заказ №{{ booking_id }}: {{ event_title }}' },
      },
      en: {
        subject: 'Refund for booking #{{ booking_id }}',
        html: '<p>The money for booking #{{ booking_id }} for “{{ event_title }}”{% if amount %} ({{ amount }} {{ currency }}){% endif %} went back to your card. The tickets are void.</p>',
        push: { title: 'Refund done', body: 'Booking #{{ booking_id }}: {{ event_title }}' },
      },
    },
  },
  {
    name: 'drop-purchase',
    variables: [
      { name: 'first_name', sample: 'Анна' },
      { name: 'item_name', required: true, sample: 'Худи' },
      { name: 'code', required: true, sample: 'A1B2C3' },
      { name: 'sale', sample: 7 },
    ],
    text: {
      ru: {
        subject: 'Вы купили «{{ item_name }}» в дропе',
        html: '<p>Поздравляем! «{{ item_name }}» ваш. Код покупки: <b>{{ code }}</b>.</p>',
        push: { title: 'Покупка в дропе', body: '«{{ item_name }}» ваш, код {{ code }}' },
      },
      en: {
        subject: 'You bought “{{ item_name }}” in the drop',
        html: '<p>Congratulations! “{{ item_name }}” is yours. Purchase code: <b>{{ code }}</b>.</p>',
        push: { title: 'Drop purchase', body: '“{{ item_name }}” is yours, code {{ code }}' },
      },
    },
  },
];

export function defaultTemplateId(name: string, locale: string): string {
  return `${name}.${locale.toLowerCase().startsWith('ru') ? 'ru' : 'en'}`;
}

export function defaultDefinitions(): { id: string; name: string; definition: StoredDefinition }[] {
  return DEFAULTS.flatMap((t) =>
    (['ru', 'en'] as const).map((locale) => ({
      id: `${t.name}.${locale}`,
      name: `${t.name} (${locale})`,
      definition: {
        variables: t.variables,
        channels: {
          email: { subject: t.text[locale].subject, html: t.text[locale].html },
          push: t.text[locale].push,
        },
      },
    })),
  );
}

export async function ensureDefaultTemplates(sql: Queryable): Promise<void> {
  for (const t of defaultDefinitions()) {
    const [made] = await sql`
      insert into notify_templates (id, name, description, current_version)
      values (${t.id}, ${t.name}, 'The platform’s own message to buyers (made at start; edits are kept)', 1)
      on conflict (id) do nothing
      returning id`;
    if (made)
      await sql`
        insert into notify_template_versions (template_id, version, definition, note, created_by)
        values (${t.id}, 1, ${sql.json(t.definition as never)}, 'default', 'system')`;
  }
}
