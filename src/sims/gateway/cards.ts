import { createHash } from 'node:crypto';

/** The spec's test cards. Any other card number that passes the Luhn check is approved too. */
export const TEST_CARDS = {
  approved: ['4111111111111111', '4532123456789012', '5555555555554444', '378282246310005'],
  declined: '4000000000000002',
  insufficientFunds: '4000000000000119',
} as const;

/** The spec's cards are accepted as they are (one of them, 4532123456789012, fails the Luhn check). */
export function isTestCard(cardNumber: string): boolean {
  return (
    (TEST_CARDS.approved as readonly string[]).includes(cardNumber) ||
    cardNumber === TEST_CARDS.declined ||
    cardNumber === TEST_CARDS.insufficientFunds
  );
}

export type CardDecision =
  | { outcome: 'approved' }
  | { outcome: 'declined'; reason: 'DECLINED' | 'INSUFFICIENT_FUNDS'; message: string };

/** What the issuing bank says about a card (before any injected bank failure). */
export function decideCard(cardNumber: string): CardDecision {
  if (cardNumber === TEST_CARDS.declined)
    return { outcome: 'declined', reason: 'DECLINED', message: 'Declined by the issuing bank' };
  if (cardNumber === TEST_CARDS.insufficientFunds)
    return { outcome: 'declined', reason: 'INSUFFICIENT_FUNDS', message: 'Insufficient funds' };
  return { outcome: 'approved' };
}

export interface CardForm {
  paymentId: string;
  cardNumber: string;
  expiryDate: string;
  cvv: string;
  cardholderName: string;
  email: string;
}

/** The form's fields as posted (`PaymentId`, `CardNumber`, `ExpiryDate`, `Cvv`, `CardholderName`, `Email`). */
export function readCardForm(fields: URLSearchParams): CardForm {
  const get = (name: string) => (fields.get(name) ?? '').trim();
  return {
    paymentId: get('PaymentId'),
    cardNumber: get('CardNumber').replace(/[\s-]/g, ''),
    expiryDate: get('ExpiryDate'),
    cvv: get('Cvv'),
    cardholderName: get('CardholderName'),
    email: get('Email'),
  };
}

/** Problems with the card fields, for the buyer (empty when the form is fine). */
export function validateCardForm(form: CardForm, now = new Date()): string[] {
  const problems: string[] = [];
  if (!/^[0-9]{12,19}$/.test(form.cardNumber)) problems.push('Card number must be 12 to 19 digits');
  else if (!isTestCard(form.cardNumber) && !luhn(form.cardNumber))
    problems.push('Card number is not valid (checksum)');
  const expiry = /^(0[1-9]|1[0-2])\s*\/\s*([0-9]{2}|[0-9]{4})$/.exec(form.expiryDate);
  if (!expiry) problems.push('Expiry date must be MM/YY');
  else {
    const month = Number(expiry[1]);
    const year = expiry[2]!.length === 2 ? 2000 + Number(expiry[2]) : Number(expiry[2]);
    // A card is valid to the end of its expiry month.
    if (Date.UTC(year, month, 1) <= now.getTime()) problems.push('The card has expired');
  }
  if (!/^[0-9]{3,4}$/.test(form.cvv)) problems.push('CVV must be 3 or 4 digits');
  if (form.cardholderName === '' || form.cardholderName.length > 100)
    problems.push('Cardholder name is required (at most 100 characters)');
  if (form.email !== '' && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(form.email))
    problems.push('Email is not valid');
  return problems;
}

export function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** `411111******1111`: what the gateway may show of a card. */
export function maskCard(cardNumber: string): string {
  return `${cardNumber.slice(0, 6)}${'*'.repeat(Math.max(0, cardNumber.length - 10))}${cardNumber.slice(-4)}`;
}

/** Identifies a submit's card data, so an identical resubmit can be recognised without keeping the card. */
export function cardFingerprint(form: CardForm): string {
  return createHash('sha256')
    .update([form.cardNumber, form.expiryDate.replace(/\s/g, ''), form.cvv, form.cardholderName].join('\n'))
    .digest('hex');
}
