-- Fair stock: nobody can hoard. One anonymous shopper could hold every unit
-- of the store and keep it by checking out again every few minutes. Caps on
-- what one shopper may hold, and bounds on renewals, enforced by triggers on
-- the tables begin_checkout and the cart RPC write, so a rule holds whoever
-- writes the rows (settings in 00_foundation.sql):
--
--   CKH01  a line holds more units of one variant than max_units_per_variant
--          (cart and checkout); detail {max, lines: [{variant_id, sku, requested}]}
--   CKH02  a checkout holds more units than max_units_per_checkout;
--          detail {max, requested}
--   CKH03  the shopper let max_unpaid_expiries reservations expire unpaid
--          within unpaid_expiry_window: no new reservation until retry_after;
--          detail {expired_unpaid, max, window_seconds, retry_after}
--
-- Renewal: a checkout that replaces one whose hold is still running keeps
-- that hold's expiry (whatever its lines: a rule on "the same lines" only
-- would be dodged by alternating two carts), so re-checking out never
-- extends a hold; once it lapses unpaid it counts towards CKH03.

-- ---------------------------------------------------------------------------
-- Triggers

create function private.check_fair_hold()
returns trigger
language plpgsql set search_path = ''
as $$
declare
  cfg private.settings := private.current_settings();
  over jsonb;
  prev_expires timestamptz;
  expiries timestamptz[];
begin
  -- 1. Caps on what one checkout holds (the shopper has at most one active
  --    session, so these are per shopper).
  select jsonb_agg(jsonb_build_object('variant_id', x.variant_id, 'sku', x.sku, 'requested', x.quantity) order by x.sku)
    into over
    from jsonb_to_recordset(new.lines) as x(variant_id uuid, sku text, quantity integer)
   where x.quantity > cfg.max_units_per_variant;
  if over is not null then
    raise exception 'at most % units of one product per shopper: %', cfg.max_units_per_variant, (
      select string_agg(format('%s (requested %s)', e ->> 'sku', e ->> 'requested'), ', ') from jsonb_array_elements(over) e)
      using errcode = 'CKH01', detail = jsonb_build_object('max', cfg.max_units_per_variant, 'lines', over)::text;
  end if;
  if new.item_count > cfg.max_units_per_checkout then
    raise exception 'at most % units per checkout, % requested', cfg.max_units_per_checkout, new.item_count
      using errcode = 'CKH02', detail = jsonb_build_object('max', cfg.max_units_per_checkout, 'requested', new.item_count)::text;
  end if;

  -- 2. A shopper who let too many reservations lapse unpaid waits.
  select array_agg(u.expired_at order by u.expired_at desc) into expiries
    from private.unpaid_expiries(new.session_id, now() - cfg.unpaid_expiry_window) u;
  if coalesce(cardinality(expiries), 0) >= cfg.max_unpaid_expiries then
    raise exception 'too many reservations expired unpaid (% in %); try again after %',
      cardinality(expiries), cfg.unpaid_expiry_window, expiries[cfg.max_unpaid_expiries] + cfg.unpaid_expiry_window
      using errcode = 'CKH03',
            detail = jsonb_build_object(
              'expired_unpaid', cardinality(expiries),
              'max', cfg.max_unpaid_expiries,
              'window_seconds', extract(epoch from cfg.unpaid_expiry_window)::integer,
              'retry_after', expiries[cfg.max_unpaid_expiries] + cfg.unpaid_expiry_window)::text;
  end if;

  -- 3. Renewal: replacing a hold that is still running (a session
  --    cancelled, by a new checkout or a release, before its expiry) keeps
  --    its expiry, unless the shopper has paid since.
  select max(s.expires_at) into prev_expires
    from public.order_sessions s
   where s.session_id = new.session_id
     and s.status = 'cancelled'
     and s.expires_at > now()
     and not exists (
       select 1 from public.order_sessions p
        where p.session_id = new.session_id
          and p.status in ('paid', 'refund_owed', 'refunded')
          and p.created_at >= s.created_at);
  if prev_expires is not null then
    new.expires_at := least(new.expires_at, prev_expires);
  end if;
  return new;
end
$$;
comment on function private.check_fair_hold() is
  'Trigger on new order sessions: CKH01 over max_units_per_variant, CKH02 over max_units_per_checkout, CKH03 after max_unpaid_expiries unpaid expiries within unpaid_expiry_window; a checkout replacing a still-running hold keeps its expiry.';
create trigger order_sessions_fair_hold
  before insert on public.order_sessions
  for each row execute function private.check_fair_hold();

create function private.check_cart_hold()
returns trigger
language plpgsql set search_path = ''
as $$
declare
  max_units integer := (private.current_settings()).max_units_per_variant;
begin
  -- Only a line that is new or grows: lowering is always allowed.
  if tg_op = 'UPDATE' and new.quantity <= old.quantity then
    return new;
  end if;
  if new.quantity > max_units then
    raise exception 'at most % units of one product per shopper, % requested', max_units, new.quantity
      using errcode = 'CKH01',
            detail = jsonb_build_object('max', max_units, 'lines', jsonb_build_array(jsonb_build_object(
              'variant_id', new.variant_id,
              'sku', (select v.sku from public.variants v where v.id = new.variant_id),
              'requested', new.quantity)))::text;
  end if;
  return new;
end
$$;
comment on function private.check_cart_hold() is
  'Trigger on cart lines (after cart_items_check): a line may not grow beyond max_units_per_variant (CKH01), so the shopper learns the cap in the cart rather than at checkout.';
-- Named to fire after cart_items_check (triggers fire in name order).
create trigger cart_items_hold_cap
  before insert or update on public.cart_items
  for each row execute function private.check_cart_hold();

-- ---------------------------------------------------------------------------
-- Routines

create function private.unpaid_expiries(p_session_id uuid, p_since timestamptz)
returns table (expired_at timestamptz)
language plpgsql stable set search_path = ''
as $$
begin
  return query
    -- Expired unpaid: expired (by the cron), or cancelled or still active
    -- after expires_at passed (lazy expiry; a new checkout cancels those).
    -- Paid sessions, late ones included, have left these statuses.
    select s.expires_at
      from public.order_sessions s
     where s.session_id = p_session_id
       and s.status in ('active', 'expired', 'cancelled')
       and s.expires_at > p_since
       and s.expires_at <= now()
       and s.expires_at <= coalesce(s.closed_at, now())
     order by s.expires_at desc;
end
$$;
comment on function private.unpaid_expiries(uuid, timestamptz) is
  'The expiry times of a shopper''s order sessions that expired unpaid since p_since, newest first. Used by the fair-stock trigger.';

-- Monitoring: who holds the most.
create function checkout.top_holders(p_limit integer default 10)
returns jsonb
language sql stable security definer set search_path = ''
as $$
  select coalesce(jsonb_agg(h order by (h ->> 'units')::integer desc, h ->> 'session_id'), '[]'::jsonb)
    from (
      select jsonb_build_object(
               'session_id', s.session_id,
               'units', sum(r.quantity)::integer,
               'variants', count(distinct r.variant_id)::integer,
               'expires_at', max(r.expires_at),
               'unpaid_expiries_last_window', (
                 select count(*)::integer
                   from private.unpaid_expiries(s.session_id, now() - (private.current_settings()).unpaid_expiry_window))
             ) as h
        from checkout.stock_reservations r
        join public.order_sessions s on s.id = r.order_session_id
       where r.expires_at > now()
       group by s.session_id
       order by sum(r.quantity) desc, s.session_id
       limit greatest(least(coalesce(p_limit, 10), 100), 1)
    ) top
$$;
comment on function checkout.top_holders(integer) is
  'Service role only. The shoppers holding the most unexpired reserved units (at most p_limit, 1..100): session id, units, variants, when their hold ends, and their unpaid expiries in the current window.';
grant execute on function checkout.top_holders(integer) to service_role;
