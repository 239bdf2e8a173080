/**
 * How many SMS a text costs. GSM 03.38 (7-bit) when every character is in the basic set or the
 * extension table (extension characters take an escape plus the character: 2 septets); otherwise the
 * whole message goes as UCS-2, counted in UTF-16 code units. Concatenated messages lose room to the
 * UDH: 153 septets / 67 units per part, and a surrogate pair is never split across parts.
 */
export type SmsEncoding = 'GSM-7' | 'UCS-2';

export interface SmsSegments {
  encoding: SmsEncoding;
  segments: number;
  /** Septets for GSM-7, UTF-16 code units for UCS-2. */
  units: number;
}

const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXTENSION = '\f^{}\\[~]|€';
const basic = new Set(GSM_BASIC);
const extension = new Set(GSM_EXTENSION);

export function smsSegments(text: string): SmsSegments {
  let septets = 0;
  let gsm = true;
  for (const ch of text) {
    if (basic.has(ch)) septets += 1;
    else if (extension.has(ch)) septets += 2;
    else {
      gsm = false;
      break;
    }
  }
  if (gsm) {
    return { encoding: 'GSM-7', units: septets, segments: septets <= 160 ? 1 : Math.ceil(septets / 153) };
  }
  const units = text.length;
  if (units <= 70) return { encoding: 'UCS-2', units, segments: 1 };
  // Fill 67-unit parts by whole code points so a surrogate pair stays in one part.
  let segments = 1;
  let used = 0;
  for (const ch of text) {
    if (used + ch.length > 67) {
      segments += 1;
      used = 0;
    }
    used += ch.length;
  }
  return { encoding: 'UCS-2', units, segments };
}
