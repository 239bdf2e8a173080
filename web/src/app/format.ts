/** Formatting shared by the screens (numbers, money, times), in the browser's locale. */
const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const money = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export const formatInteger = (value: number | string | null | undefined): string =>
  value === null || value === undefined || value === '' ? '—' : integer.format(Number(value));
export const formatDecimal = (value: number | null | undefined): string =>
  value === null || value === undefined ? '—' : decimal.format(value);
/** The platform's money is a decimal string (e.g. "40000.00"). */
export const formatMoney = (value: string | number | null | undefined): string =>
  value === null || value === undefined ? '—' : money.format(Number(value));
export const formatTime = (value: string | number | Date | null | undefined): string =>
  value === null || value === undefined ? '—' : dateTime.format(new Date(value));
export const formatPercent = (ratio: number | null | undefined): string =>
  ratio === null || ratio === undefined || Number.isNaN(ratio) ? '—' : `${decimal.format(ratio * 100)} %`;

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : decimal.format(value)} ${units[unit]}`;
}
