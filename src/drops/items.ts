/**
 * The items of a sale, generated: item `id` of sale `sale` always has the same name and image, in every
 * process and after any restart, so nothing about them needs storing. Changing these lists renames the
 * items of past sales too: append to them, never reorder (or bump GENERATOR_VERSION into the URLs).
 */

export interface DropItem {
  id: number;
  name: string;
  imageUrl: string;
}

const GENERATOR_VERSION = 1;

const ADJECTIVES = [
  'Amber',
  'Arctic',
  'Azure',
  'Bold',
  'Brass',
  'Bright',
  'Cedar',
  'Cobalt',
  'Copper',
  'Coral',
  'Crimson',
  'Dawn',
  'Desert',
  'Dusk',
  'Ember',
  'Emerald',
  'Fable',
  'Golden',
  'Granite',
  'Harbor',
  'Indigo',
  'Ivory',
  'Jade',
  'Lunar',
  'Maple',
  'Midnight',
  'Misty',
  'Neon',
  'Noble',
  'Ochre',
  'Onyx',
  'Pearl',
  'Polar',
  'Quiet',
  'Rapid',
  'Royal',
  'Rustic',
  'Saffron',
  'Scarlet',
  'Silver',
  'Solar',
  'Stellar',
  'Storm',
  'Swift',
  'Teal',
  'Velvet',
  'Vivid',
  'Wild',
  'Winter',
  'Zephyr',
] as const;

const MATERIALS = [
  'Canvas',
  'Carbon',
  'Ceramic',
  'Cotton',
  'Denim',
  'Felt',
  'Glass',
  'Leather',
  'Linen',
  'Marble',
  'Mesh',
  'Nylon',
  'Oak',
  'Paper',
  'Satin',
  'Silk',
  'Steel',
  'Suede',
  'Walnut',
  'Wool',
] as const;

const PRODUCTS = [
  'Backpack',
  'Beanie',
  'Bottle',
  'Cap',
  'Cardholder',
  'Hoodie',
  'Jacket',
  'Journal',
  'Lamp',
  'Mug',
  'Notebook',
  'Pin',
  'Poster',
  'Scarf',
  'Sneakers',
  'Socks',
  'Sweater',
  'Tee',
  'Tote',
  'Watch',
] as const;

/** A 32-bit hash of (sale, item): murmur3's finaliser over both halves of the sale number. */
function hash(sale: number, item: number): number {
  let h = Math.imul(item ^ 0x9e3779b9, 0x85ebca6b) ^ (sale >>> 0) ^ Math.imul(Math.floor(sale / 2 ** 32), 31);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function itemName(sale: number, item: number): string {
  const h = hash(sale, item);
  const adjective = ADJECTIVES[h % ADJECTIVES.length]!;
  const material = MATERIALS[Math.floor(h / ADJECTIVES.length) % MATERIALS.length]!;
  const product = PRODUCTS[Math.floor(h / (ADJECTIVES.length * MATERIALS.length)) % PRODUCTS.length]!;
  return `${adjective} ${material} ${product} #${item + 1}`;
}

/** A stable placeholder image per item (seeded, so every render of the storefront shows the same one). */
export function itemImageUrl(sale: number, item: number): string {
  return `https://picsum.photos/seed/boxoffice-drop-v${GENERATOR_VERSION}-${sale}-${item}/480/480`;
}

export function dropItem(sale: number, item: number): DropItem {
  return { id: item, name: itemName(sale, item), imageUrl: itemImageUrl(sale, item) };
}
