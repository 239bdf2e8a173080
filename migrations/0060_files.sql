-- Files (seed 002, src/files/): the database is a cache of what the storage elements hold. attr.json
-- beside each file is the truth; `boxoffice files rebuild` refills these tables from it.

-- Storage elements as registered at boot: configuration plus what the API changed (the mode).
create table storage_elements (
  id text primary key check (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
  path text not null,
  -- The mode in force: rw -> ro -> ar by the API; anything else only by configuration and restart.
  mode text not null check (mode in ('edit', 'rw', 'ro', 'ar')),
  -- What the configuration said at the last boot: a restart with the same configuration keeps `mode`.
  configured_mode text not null check (configured_mode in ('edit', 'rw', 'ro', 'ar')),
  -- 0: the whole disk.
  capacity_bytes bigint not null check (capacity_bytes >= 0),
  registered_at timestamptz not null default now(),
  mode_changed_at timestamptz not null default now()
);

-- The words of a file for full-text search: filename (split at . _ - / so `отчёт_2024.pdf` has the words
-- отчет, 2024, pdf), tags and description. The `russian` configuration stems Cyrillic words with the
-- Russian and Latin ones with the English stemmer (as src/catalog does); ё is folded to е on both sides.
create function files_search_vector(filename text, description text, tags text[]) returns tsvector
language sql immutable parallel safe as $$
  select setweight(to_tsvector('russian', translate(regexp_replace(filename, '[._/\\-]+', ' ', 'g'), 'ёЁ', 'еЕ')), 'A')
      || setweight(to_tsvector('russian', translate(array_to_string(tags, ' '), 'ёЁ', 'еЕ')), 'B')
      || setweight(to_tsvector('russian', translate(coalesce(description, ''), 'ёЁ', 'еЕ')), 'C')
$$;

create table files (
  file_id uuid primary key,
  filename text not null,
  content_type text not null,
  size_bytes bigint not null check (size_bytes >= 0),
  -- 'sha256:<64 hex>'
  checksum text not null check (checksum ~ '^sha256:[0-9a-f]{64}$'),
  storage_element_id text not null,
  created_at timestamptz not null,
  updated_at timestamptz not null default now(),
  description text,
  tags text[] not null default '{}',
  -- The whole attr.json as last written: GET /api/files/{id}/metadata may answer from here.
  attr jsonb not null,
  search tsvector generated always as (files_search_vector(filename, description, tags)) stored
);

-- One index per filter of GET /api/files.
create index files_filename_idx on files (filename);
create index files_filename_prefix_idx on files (lower(filename) text_pattern_ops);
create index files_content_type_idx on files (content_type, created_at);
create index files_tags_idx on files using gin (tags);
create index files_created_at_idx on files (created_at, file_id);
create index files_search_idx on files using gin (search);
-- Space used and files per element (GET /api/storage-elements): an index-only scan.
create index files_element_usage_idx on files (storage_element_id) include (size_bytes);

-- Runs of the scheduled scrub (src/files/scrub.ts): when, and what it found.
create table files_scrubs (
  id bigint generated always as identity primary key,
  started_at timestamptz not null,
  finished_at timestamptz not null default now(),
  full_scrub boolean not null,
  files_checked bigint not null,
  findings jsonb not null
);
