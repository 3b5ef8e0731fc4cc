-- pg_cron jobs. cron.schedule with a job name replaces an existing job of
-- that name, so this migration can run again.
--
-- Each job is a DO block that commits after every batch, so that expiring
-- thousands of sessions or purging a million carts never holds its locks for
-- long. (A DO block rather than a procedure: a procedure may only COMMIT
-- without a `set search_path` clause, which the advisors rightly require;
-- the functions it loops over have theirs.) pg_cron runs the command as a
-- top-level statement, where COMMIT is allowed.

create extension if not exists pg_cron with schema pg_catalog;
grant usage on schema cron to postgres;

select cron.schedule('checkout-expire-sessions', '* * * * *',
  'do $$ begin while checkout.expire_sessions(1000) = 1000 loop commit; end loop; end $$');
select cron.schedule('checkout-purge-carts', '17 * * * *',
  'do $$ begin while checkout.purge_carts(5000) = 5000 loop commit; end loop; end $$');
select cron.schedule('checkout-trim-sessions', '43 3 * * *',
  'do $$ begin while checkout.trim_sessions(5000) = 5000 loop commit; end loop; end $$');
