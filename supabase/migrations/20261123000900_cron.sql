-- pg_cron jobs. cron.schedule with a job name replaces an existing job of
-- that name, so this migration can run again.

create extension if not exists pg_cron with schema pg_catalog;
grant usage on schema cron to postgres;

select cron.schedule('checkout-expire-sessions', '* * * * *', 'call checkout.run_expire_sessions()');
select cron.schedule('checkout-purge-carts', '17 * * * *', 'call checkout.run_purge_carts()');
select cron.schedule('checkout-trim-sessions', '43 3 * * *', 'call checkout.run_trim_sessions()');
