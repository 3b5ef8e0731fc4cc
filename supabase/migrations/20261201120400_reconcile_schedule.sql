-- The reconcile Edge Function every minute, on hosted Supabase: pg_cron
-- calls it through pg_net, as Supabase documents for scheduled functions
-- (https://supabase.com/docs/guides/functions/schedule-functions). The
-- project URL and the service role key are read from Vault at each run, so
-- neither is written in this migration:
--
--   select vault.create_secret('https://<project-ref>.supabase.co', 'project_url');
--   select vault.create_secret('<service role key>', 'service_role_key');
--
-- The job is created only where pg_net is installed (hosted Supabase, or
-- `create extension pg_net` first; then run this block again). Elsewhere it is
-- skipped with a notice: the local stack (npm start) calls the same function
-- on the same schedule itself, and the tests call it directly.

do $$
begin
  if exists (select 1 from pg_catalog.pg_extension where extname = 'pg_net') then
    perform cron.schedule('checkout-reconcile', '* * * * *', $job$
      select net.http_post(
        url := (select decrypted_secret from vault.decrypted_secrets where name = 'project_url') || '/functions/v1/reconcile',
        headers := jsonb_build_object(
          'Content-Type', 'application/json',
          'Authorization', 'Bearer ' || (select decrypted_secret from vault.decrypted_secrets where name = 'service_role_key')),
        body := '{}'::jsonb,
        timeout_milliseconds := 55000)
    $job$);
  else
    raise notice 'pg_net is not installed: the checkout-reconcile cron job was not created (the local stack schedules reconcile itself)';
  end if;
end
$$;
