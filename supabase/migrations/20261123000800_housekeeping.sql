-- Housekeeping and monitoring: expire order sessions, purge idle carts, trim
-- old sessions, and the stats the store owner watches. Service role only.
-- Availability never waits for these: expired reservations are already free.

create function checkout.expire_sessions(p_batch_size integer default 1000)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  expired_ids uuid[];
begin
  -- skip locked: a session being paid right now is left to apply_payment.
  with due as (
    select id from public.order_sessions
     where status = 'active' and expires_at <= now()
     order by expires_at
     limit greatest(p_batch_size, 1)
       for update skip locked
  ), moved as (
    update public.order_sessions s
       set status = 'expired', closed_at = now()
      from due where s.id = due.id
    returning s.id
  )
  select coalesce(array_agg(id), '{}') into expired_ids from moved;

  delete from public.stock_reservations where order_session_id = any (expired_ids);
  insert into public.order_session_events (order_session_id, kind, detail)
  select id, 'expired', '{"reason": "reservation time ran out"}'::jsonb from unnest(expired_ids) id;
  return coalesce(array_length(expired_ids, 1), 0);
end
$$;
comment on function checkout.expire_sessions(integer) is 'Service role only. Expires up to p_batch_size active order sessions past expires_at and deletes their reservations; returns how many.';

create function checkout.purge_carts(p_batch_size integer default 5000)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  purged integer;
begin
  with doomed as (
    select session_id from public.carts
     where expires_at < now()
     order by expires_at
     limit greatest(p_batch_size, 1)
       for update skip locked
  )
  delete from public.carts c using doomed where c.session_id = doomed.session_id;
  get diagnostics purged = row_count;
  return purged;
end
$$;
comment on function checkout.purge_carts(integer) is 'Service role only. Deletes up to p_batch_size carts (with their lines) idle past expires_at; carts being used are skipped, not waited for. Returns how many.';

create function checkout.trim_sessions(p_batch_size integer default 5000)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  trimmed integer;
begin
  with doomed as (
    select s.id from public.order_sessions s
     where s.status in ('expired', 'cancelled')
       and s.closed_at < now() - (private.current_settings()).trim_after
       and not exists (select 1 from public.payment_events pe where pe.order_session_id = s.id)
       and not exists (select 1 from public.payment_refunds pr where pr.order_session_id = s.id)
       and not exists (select 1 from public.orders o where o.order_session_id = s.id)
     order by s.closed_at
     limit greatest(p_batch_size, 1)
       for update skip locked
  )
  delete from public.order_sessions s using doomed where s.id = doomed.id;
  get diagnostics trimmed = row_count;
  return trimmed;
end
$$;
comment on function checkout.trim_sessions(integer) is 'Service role only. Deletes expired and cancelled order sessions closed more than trim_after (30 days) ago that never saw a payment. Never touches orders. Returns how many.';

create function checkout.stats()
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  with by_status as (
    select s.status::text as status, count(*) as n from public.order_sessions s group by s.status
  ), day as (
    select count(*) filter (where s.status = 'paid') as paid,
           count(*) filter (where s.status in ('expired', 'cancelled', 'refund_owed', 'refunded')) as lost,
           count(*) as created
      from public.order_sessions s
     where s.created_at > now() - interval '24 hours'
  )
  select jsonb_build_object(
    'generated_at', now(),
    'sessions_by_status', (
      select jsonb_object_agg(st, coalesce((select n from by_status b where b.status = st), 0))
        from unnest(enum_range(null::public.order_session_status)::text[]) st
    ),
    'conversion_rate', (
      select case when sum(n) filter (where status <> 'active') > 0
                  then round(coalesce(sum(n) filter (where status = 'paid'), 0)::numeric / sum(n) filter (where status <> 'active'), 4)
             end
        from by_status
    ),
    'last_24h', (select jsonb_build_object(
      'created', d.created, 'paid', d.paid,
      'conversion_rate', case when d.paid + d.lost > 0 then round(d.paid::numeric / (d.paid + d.lost), 4) end) from day d),
    'active_reservations', (
      select jsonb_build_object('sessions', count(distinct r.order_session_id), 'units', coalesce(sum(r.quantity), 0))
        from public.stock_reservations r where r.expires_at > now()
    ),
    'late_payments', jsonb_build_object(
      'orders', (select count(*) from public.orders o where o.paid_late),
      'out_of_stock', (select count(*) from public.payment_refunds pr where pr.reason = 'out_of_stock')
    ),
    'refunds_owed', (
      select jsonb_build_object('count', coalesce(sum(x.n), 0), 'by_currency', coalesce(jsonb_object_agg(x.currency, x.amount), '{}'::jsonb))
        from (select pr.currency, sum(pr.amount) as amount, count(*) as n
                from public.payment_refunds pr where pr.status = 'owed' group by pr.currency) x
    ),
    'refunds_made', (select count(*) from public.payment_refunds pr where pr.status = 'refunded'),
    'amount_mismatches', (select count(*) from public.payment_refunds pr where pr.reason = 'amount_mismatch'),
    'expired_last_24h', (
      select count(*) from public.order_sessions s
       where s.status = 'expired' and s.closed_at > now() - interval '24 hours'
    ),
    'orders', (
      select jsonb_build_object('total', coalesce(sum(x.n), 0),
        'by_status', coalesce(jsonb_object_agg(x.status, x.n), '{}'::jsonb))
        from (select o.status::text as status, count(*) as n from public.orders o group by o.status) x
    )
  )
$$;
comment on function checkout.stats() is 'Service role only. Monitoring for the store owner: sessions by status, conversion rate (all time and last 24 h), active reservations, late payments, refunds owed, amount mismatches, sessions expired in the last 24 h, orders by status.';

create function checkout.cleanup()
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  expired integer := 0;
  purged integer := 0;
  trimmed integer := 0;
  n integer;
begin
  loop n := checkout.expire_sessions(1000); expired := expired + n; exit when n < 1000; end loop;
  loop n := checkout.purge_carts(5000); purged := purged + n; exit when n < 5000; end loop;
  loop n := checkout.trim_sessions(5000); trimmed := trimmed + n; exit when n < 5000; end loop;
  return jsonb_build_object('expired_sessions', expired, 'purged_carts', purged, 'trimmed_sessions', trimmed);
end
$$;
comment on function checkout.cleanup() is 'Service role only. The manual cleanup behind the admin Edge Function: expire due sessions, purge expired carts, trim old sessions, in one transaction. Returns the counts.';

revoke execute on all functions in schema checkout from public, anon, authenticated;
grant execute on function checkout.expire_sessions(integer) to service_role;
grant execute on function checkout.purge_carts(integer) to service_role;
grant execute on function checkout.trim_sessions(integer) to service_role;
grant execute on function checkout.stats() to service_role;
grant execute on function checkout.cleanup() to service_role;
