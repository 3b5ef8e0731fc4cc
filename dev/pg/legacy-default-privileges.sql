-- Supabase's legacy default privileges (projects created before 2026):
-- every new table, sequence and function in public is granted to anon,
-- authenticated and service_role when the postgres role creates it. New
-- projects grant nothing by default. Our migrations grant and revoke
-- explicitly, so they must hold under both: `npm test` runs the grant and RLS
-- tests a second time on a database bootstrapped with this file.
--
-- TEST TOOLING, NEVER A MIGRATION.
alter default privileges for role postgres in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on sequences to anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on functions to anon, authenticated, service_role;
