import type { DomainEvent } from '../platform/outbox/index.ts';
import { itemImageUrl, itemName } from './items.ts';
import type { SaleWindow } from './sale-clock.ts';

/** Outbox topics of the drops module; payloads below. Consumers: notify (purchases), analytics. */
export const Topics = {
  purchased: 'drop.purchased',
  saleOpened: 'drop.sale_opened',
  saleClosed: 'drop.sale_closed',
} as const;

export interface PurchasedPayload {
  sale: number;
  item: { id: number; name: string; imageUrl: string };
  /** A decimal string: user ids go up to 2^63-1, beyond JSON numbers' safe range. */
  userId: string;
  code: string;
  purchasedAt: string;
}

export interface SaleOpenedPayload {
  sale: number;
  startsAt: string;
  endsAt: string;
  items: number;
}

export interface SaleClosedPayload {
  sale: number;
  startsAt: string;
  endsAt: string;
  items: number;
  sold: number;
}

export function purchased(
  sale: number,
  item: number,
  userId: string,
  code: string,
  at: number,
): DomainEvent<PurchasedPayload> {
  return {
    topic: Topics.purchased,
    key: `${sale}:${item}`,
    payload: {
      sale,
      item: { id: item, name: itemName(sale, item), imageUrl: itemImageUrl(sale, item) },
      userId,
      code,
      purchasedAt: new Date(at).toISOString(),
    },
  };
}

/** The fields every sale event carries about its window. */
function windowFields(window: SaleWindow) {
  return {
    sale: window.number,
    startsAt: new Date(window.startsAt).toISOString(),
    endsAt: new Date(window.endsAt).toISOString(),
  };
}

export function saleOpened(window: SaleWindow, items: number): DomainEvent<SaleOpenedPayload> {
  return {
    topic: Topics.saleOpened,
    key: String(window.number),
    payload: { ...windowFields(window), items },
  };
}

export function saleClosed(window: SaleWindow, items: number, sold: number): DomainEvent<SaleClosedPayload> {
  return {
    topic: Topics.saleClosed,
    key: String(window.number),
    payload: { ...windowFields(window), items, sold },
  };
}
