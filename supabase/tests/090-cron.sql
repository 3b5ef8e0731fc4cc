-- The pg_cron jobs scheduled by the migration: names, schedules, commands,
-- one job per name (the migration is re-runnable), and no access for the API.
begin;
\ir helpers/tests.psql
select plan(7);

select has_extension('pg_cron', 'pg_cron is installed');
select is(
  (select jsonb_agg(jsonb_build_object('jobname', jobname, 'schedule', schedule, 'command', command, 'active', active,
                                       'database', database, 'username', username) order by jobname)
     from cron.job where jobname like 'checkout-%'),
  jsonb_build_array(
    jsonb_build_object('jobname', 'checkout-expire-sessions', 'schedule', '* * * * *', 'command', 'do $$ begin while checkout.expire_sessions(1000) = 1000 loop commit; end loop; end $$',
                       'active', true, 'database', current_database(), 'username', 'postgres'),
    jsonb_build_object('jobname', 'checkout-purge-anonymous-users', 'schedule', '23 4 * * *', 'command', 'do $$ begin while checkout.purge_anonymous_users(1000) = 1000 loop commit; end loop; end $$',
                       'active', true, 'database', current_database(), 'username', 'postgres'),
    jsonb_build_object('jobname', 'checkout-purge-carts', 'schedule', '17 * * * *', 'command', 'do $$ begin while checkout.purge_carts(5000) = 5000 loop commit; end loop; end $$',
                       'active', true, 'database', current_database(), 'username', 'postgres'),
    jsonb_build_object('jobname', 'checkout-trim-cron-history', 'schedule', '51 4 * * *', 'command', 'delete from cron.job_run_details where end_time < now() - interval ''7 days''',
                       'active', true, 'database', current_database(), 'username', 'postgres'),
    jsonb_build_object('jobname', 'checkout-trim-sessions', 'schedule', '43 3 * * *', 'command', 'do $$ begin while checkout.trim_sessions(5000) = 5000 loop commit; end loop; end $$',
                       'active', true, 'database', current_database(), 'username', 'postgres')),
  'cron: expiry every minute, cart purge hourly, trims and the anonymous-user purge daily, with the right commands'
);
select is_empty(
  $$ select j.jobname from cron.job j
      where j.jobname like 'checkout-%' and j.command ~ 'checkout\.'
        and to_regproc(substring(j.command from 'checkout\.[a-z_]+')) is null $$,
  'cron: every command calls a routine that exists'
);

-- Scheduling again (re-running the migration) replaces, never duplicates.
select jsonb_object_agg(jobname, jobid) as ids from cron.job where jobname like 'checkout-%' \gset
select cron.schedule('checkout-expire-sessions', '* * * * *', 'do $$ begin while checkout.expire_sessions(1000) = 1000 loop commit; end loop; end $$') \gset
select cron.schedule('checkout-purge-carts', '17 * * * *', 'do $$ begin while checkout.purge_carts(5000) = 5000 loop commit; end loop; end $$') \gset
select cron.schedule('checkout-trim-sessions', '43 3 * * *', 'do $$ begin while checkout.trim_sessions(5000) = 5000 loop commit; end loop; end $$') \gset
select is((select count(*)::integer from cron.job where jobname like 'checkout-%'), 5, 'cron: re-scheduling keeps one job per name');
select is((select jsonb_object_agg(jobname, jobid) from cron.job where jobname like 'checkout-%'), :'ids'::jsonb, 'cron: re-scheduling keeps the same jobs');

-- The API roles cannot see or change the jobs.
select ok(not has_schema_privilege('anon', 'cron', 'usage'), 'cron: anon has no access to the cron schema');
select ok(not has_schema_privilege('authenticated', 'cron', 'usage'), 'cron: authenticated has no access to the cron schema');

select * from finish();
rollback;
