import { TEST_CARDS } from './cards.ts';
import type { SimPayment } from './payments.ts';

/** The simulator's buyer-facing pages: the card form and the result page. Plain HTML, no script. */

export const HTML_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'",
  'x-frame-options': 'DENY',
} as const;

const STYLE = `
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;padding:2rem;color:#1d2330}
main{max-width:26rem;margin:auto;background:#fff;border-radius:8px;padding:1.5rem 2rem;box-shadow:0 1px 4px #0002}
h1{font-size:1.25rem;margin:0 0 1rem}.amount{font-size:1.6rem;font-weight:600;margin:.25rem 0 1rem}
label{display:block;margin:.75rem 0 .25rem;font-size:.9rem}input{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}
.row{display:flex;gap:1rem}.row>div{flex:1}button{margin-top:1.25rem;width:100%;padding:.7rem;font-size:1rem;
background:#1f6feb;color:#fff;border:0;border-radius:6px;cursor:pointer}.errors{background:#fdecea;color:#8a1c12;
padding:.5rem 1rem;border-radius:6px}.note{font-size:.8rem;color:#5b6474;margin-top:1.25rem}.status{font-weight:600}
`;

export function escapeHtml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

export function formatAmount(amount: number, currency: string): string {
  return `${(amount / 100).toFixed(2)} ${currency}`;
}

function page(title: string, body: string, lang = 'en', head = ''): string {
  return `<!doctype html>
<html lang="${escapeHtml(lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>${head}
</head>
<body><main>
${body}
</main></body>
</html>
`;
}

export interface FormValues {
  cardholderName?: string;
  email?: string;
}

/** The card form (`GET paymentform/render/{paymentId}`); posts to `paymentform/submit`. */
export function formPage(payment: SimPayment, errors: string[] = [], values: FormValues = {}): string {
  const email = values.email ?? payment.email ?? '';
  const errorList =
    errors.length > 0
      ? `<div class="errors" role="alert"><ul>${errors.map((e) => `<li>${escapeHtml(e)}</li>`).join('')}</ul></div>`
      : '';
  return page(
    'Pay',
    `<h1>Payment to ${escapeHtml(payment.teamSlug)}</h1>
<div class="amount">${escapeHtml(formatAmount(payment.amount, payment.currency))}</div>
${payment.description ? `<p>${escapeHtml(payment.description)}</p>` : ''}
<p>Order <code>${escapeHtml(payment.orderId)}</code></p>
${errorList}
<form method="post" action="/api/v1/paymentform/submit" autocomplete="off">
<input type="hidden" name="PaymentId" value="${escapeHtml(payment.paymentId)}">
<label for="card">Card number</label>
<input id="card" name="CardNumber" inputmode="numeric" autocomplete="cc-number" required pattern="[0-9 \\-]{12,23}" placeholder="4111 1111 1111 1111">
<div class="row">
<div><label for="exp">Expiry (MM/YY)</label>
<input id="exp" name="ExpiryDate" autocomplete="cc-exp" required pattern="(0[1-9]|1[0-2]) ?/ ?([0-9]{2}|[0-9]{4})" placeholder="12/30"></div>
<div><label for="cvv">CVV</label>
<input id="cvv" name="Cvv" inputmode="numeric" autocomplete="cc-csc" required pattern="[0-9]{3,4}" placeholder="123"></div>
</div>
<label for="name">Cardholder name</label>
<input id="name" name="CardholderName" autocomplete="cc-name" required maxlength="100" value="${escapeHtml(values.cardholderName ?? '')}">
<label for="email">Email for the receipt</label>
<input id="email" name="Email" type="email" autocomplete="email" value="${escapeHtml(email)}">
<button type="submit">Pay ${escapeHtml(formatAmount(payment.amount, payment.currency))}</button>
</form>
<p class="note">Payment gateway simulator. Approved: ${TEST_CARDS.approved.join(', ')}.
Declined: ${TEST_CARDS.declined}. Insufficient funds: ${TEST_CARDS.insufficientFunds}. Any expiry in the future, any CVV.</p>`,
    payment.language ?? 'en',
  );
}

/** Where the buyer goes back to the merchant: successURL / failURL with the payment's ids. */
export function returnUrl(payment: SimPayment): string | null {
  const base =
    payment.status === 'AUTHORIZED' || payment.status === 'CONFIRMED' ? payment.successUrl : payment.failUrl;
  if (!base) return null;
  try {
    const url = new URL(base);
    url.searchParams.set('paymentId', payment.paymentId);
    url.searchParams.set('orderId', payment.orderId);
    return url.toString();
  } catch {
    return null;
  }
}

/** The outcome page after a submit (and `GET paymentform/result/{paymentId}`); sends the buyer back after 3 s. */
export function resultPage(payment: SimPayment): string {
  const ok = payment.status === 'AUTHORIZED' || payment.status === 'CONFIRMED';
  const back = returnUrl(payment);
  const title = ok ? 'Payment successful' : unpaidTitle(payment);
  return page(
    title,
    `<h1>${escapeHtml(title)}</h1>
<div class="amount">${escapeHtml(formatAmount(payment.amount, payment.currency))}</div>
<p>Status: <span class="status" data-status="${payment.status}">${payment.status}</span></p>
<p>${escapeHtml(payment.statusDescription)}</p>
${back ? `<p><a href="${escapeHtml(back)}">Return to the shop</a></p>` : ''}`,
    payment.language ?? 'en',
    back ? `\n<meta http-equiv="refresh" content="3;url=${escapeHtml(back)}">` : '',
  );
}

function unpaidTitle(payment: SimPayment): string {
  if (payment.status === 'EXPIRED') return 'Payment expired';
  if (payment.status === 'CANCELLED' || payment.status === 'REFUNDED') return 'Payment cancelled';
  if (payment.status === 'NEW' || payment.status === 'FORM_SHOWED') return 'Payment pending';
  return 'Payment failed';
}

/** A page that only says something (unknown payment, bad request). */
export function messagePage(title: string, message: string): string {
  return page(title, `<h1>${escapeHtml(title)}</h1>\n<p>${escapeHtml(message)}</p>`);
}
