-- Every table in every schema the Data API exposes has row level security,
-- checked over the whole catalog, so a table added later without it fails
-- here. The list is supabase/config.toml's `api.schemas` (tests/contract
-- checks the two agree); schemas the API never exposes (private, checkout,
-- admin) are reachable only through granted routines.
begin;
\ir helpers/tests.psql
select plan(2);

select tests.rls_enabled(s) from unnest(array['public']) s;

-- The check can fail: a table without RLS in an exposed schema is named.
create table public.rls_probe (id integer);
select is(tests.tables_without_rls('public'), array['rls_probe'], 'a table without RLS in public is caught, and named');

select * from finish();
rollback;
