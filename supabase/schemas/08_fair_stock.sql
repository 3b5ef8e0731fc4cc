-- Fair stock: nobody can hoard. One anonymous shopper could hold every unit
-- of the store and keep it by checking out again every few minutes. Caps on
-- what one shopper may hold, and bounds on renewals, enforced by a trigger on
-- cart lines (whoever writes them) and, for checkouts, by begin_checkout (the
-- only writer of order sessions) through private.checkout_fair_hold, with
-- the settings it read once (settings in 00_foundation.sql):
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
--
-- Per client address too, since a shopper is one anonymous sign-in (four
-- anonymous sessions from one address held all 86 units of the demo catalog
-- for 15 minutes): the unpaid, unexpired checkouts from one client address
-- may hold at most max_units_per_address units together (CKH05).
-- checkout.begin_client_checkout is begin_checkout for a request from a
-- client (create-preference, which reads the address the gateway reports):
-- begin_checkout, then, under a lock per address taken after
-- begin_checkout's own and held only for the count, the count. The database
-- keeps no address: an order session records a keyed hash of it
-- (HMAC-SHA256 under private.client_address_secret, a random key made once
-- per database), enough to count one address's holds and useless for
-- finding whose it was; it goes with the session when old sessions are
-- trimmed. An IPv6 address counts by its /64, an IPv4-mapped one as IPv4.

-- ---------------------------------------------------------------------------
-- Tables

create table private.client_address_secret (
  only_row boolean primary key default true check (only_row),
  secret bytea not null default extensions.gen_random_bytes(32)
);
insert into private.client_address_secret default values;
comment on table private.client_address_secret is
  'The key of the client address hashes in order_sessions.client_address (random, made once per database). Nobody but the migration owner reads it.';

-- No grant, no policy: only the owner (the definer routines) reads it.
alter table private.client_address_secret enable row level security;

create index order_sessions_client_address_idx on public.order_sessions (client_address) include (item_count, expires_at)
  where status = 'active' and client_address is not null;

-- ---------------------------------------------------------------------------
-- The rules: a checkout's (called by begin_checkout), a cart line's (a trigger)

create function private.checkout_fair_hold(
  p_session_id uuid,
  p_lines jsonb,
  p_item_count integer,
  p_expires_at timestamptz,
  cfg private.settings
)
returns timestamptz
language plpgsql set search_path = ''
as $$
declare
  over jsonb;
  prev_expires timestamptz;
  expiries timestamptz[];
begin
  -- 1. Caps on what one checkout holds (the shopper has at most one active
  --    session, so these are per shopper).
  select jsonb_agg(jsonb_build_object('variant_id', x.variant_id, 'sku', x.sku, 'requested', x.quantity) order by x.sku)
    into over
    from jsonb_to_recordset(p_lines) as x(variant_id uuid, sku text, quantity integer)
   where x.quantity > cfg.max_units_per_variant;
  if over is not null then
    raise exception 'at most % units of one product per shopper: %', cfg.max_units_per_variant, (
      select string_agg(format('%s (requested %s)', e ->> 'sku', e ->> 'requested'), ', ') from jsonb_array_elements(over) e)
      using errcode = 'CKH01', detail = jsonb_build_object('max', cfg.max_units_per_variant, 'lines', over)::text;
  end if;
  if p_item_count > cfg.max_units_per_checkout then
    raise exception 'at most % units per checkout, % requested', cfg.max_units_per_checkout, p_item_count
      using errcode = 'CKH02', detail = jsonb_build_object('max', cfg.max_units_per_checkout, 'requested', p_item_count)::text;
  end if;

  -- 2. Expired unpaid within the window (private.unpaid_expiries), after the
  --    session being replaced was cancelled.
  select array_agg(u.expired_at order by u.expired_at desc)
    into expiries
    from private.unpaid_expiries(p_session_id, now() - cfg.unpaid_expiry_window) u;
  -- 3. Renewal: a replaced hold still running (a session cancelled, by a new
  --    checkout or a release, before its expiry) keeps its expiry, unless
  --    the shopper has paid since.
  select max(s.expires_at)
    into prev_expires
    from public.order_sessions s
   where s.session_id = p_session_id and s.status = 'cancelled' and s.expires_at > now()
     and s.created_at > coalesce((select max(p.created_at) from public.order_sessions p
                                   where p.session_id = p_session_id and p.status in ('paid', 'refund_owed', 'refunded')),
                                 '-infinity');
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
  return least(p_expires_at, prev_expires);
end
$$;
comment on function private.checkout_fair_hold(uuid, jsonb, integer, timestamptz, private.settings) is
  'begin_checkout''s fair-stock rules for the session it is about to write (lines, item_count, its expiry p_expires_at), with the settings it read: CKH01 over max_units_per_variant, CKH02 over max_units_per_checkout, CKH03 after max_unpaid_expiries unpaid expiries within unpaid_expiry_window. Returns the session''s expiry: p_expires_at, or the expiry of a still-running hold it replaces when sooner.';

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
  'The expiry times of a shopper''s order sessions that expired unpaid since p_since, newest first. Used by private.checkout_fair_hold (the cap on unpaid expiries) and checkout.top_holders.';

create function private.client_address_key(p_address text)
returns text
language plpgsql stable set search_path = ''
as $$
declare
  a inet;
  counted text;
begin
  begin
    a := p_address::inet;
  exception when others then
    return null;
  end;
  if a is null or (family(a) = 4 and masklen(a) <> 32) or (family(a) = 6 and masklen(a) <> 128) then
    return null;
  end if;
  if family(a) = 6 and host(a) ~* '^::ffff:[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' then
    a := substr(host(a), 8)::inet;
  end if;
  counted := host(a);
  if family(a) = 6 then
    counted := network(set_masklen(a, 64))::text;
  end if;
  return encode(extensions.hmac(convert_to(counted, 'UTF8'), (select s.secret from private.client_address_secret s), 'sha256'), 'hex');
end
$$;
comment on function private.client_address_key(text) is
  'The key an address counts under: HMAC-SHA256 (hex) of the IPv4 address, or of the IPv6 /64, under private.client_address_secret; null for anything that is not one address.';

create function checkout.begin_client_checkout(
  p_session_id uuid,
  p_payer jsonb,
  p_shipping_address jsonb,
  p_coupon_code text,
  p_client_address text,
  p_marketing_opt_in boolean
)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  cfg private.settings := private.current_settings();
  k text := private.client_address_key(p_client_address);
  r jsonb;
  s_id uuid;
  held integer;
  soonest timestamptz;
begin
  -- begin_checkout writes the session with the address's key (read from
  -- this transaction-local setting): one row version, not an insert and
  -- then an update of a row with a dozen indexes. An error rolls the
  -- setting back with the rest.
  perform set_config('checkout.client_address', coalesce(k, ''), true);
  r := checkout.begin_checkout(p_session_id, p_payer, p_shipping_address, p_coupon_code);
  perform set_config('checkout.client_address', '', true);
  s_id := (r ->> 'id')::uuid;
  if p_marketing_opt_in then
    perform email.request_marketing_opt_in(p_payer ->> 'email', p_session_id, s_id);
  end if;
  if k is null then
    return r;
  end if;
  -- One address's checkouts count one at a time; each statement below reads
  -- afresh, so it sees every checkout from the address committed before it
  -- got the lock (a bigint key: never one of the admission's int4 pairs).
  perform pg_advisory_xact_lock(('x' || left(k, 16))::bit(64)::bigint);
  select coalesce(sum(s.item_count), 0), min(s.expires_at) into held, soonest
    from public.order_sessions s
   where s.client_address = k and s.status = 'active' and s.expires_at > now() and s.id <> s_id;
  if held + (r ->> 'item_count')::integer > cfg.max_units_per_address then
    raise exception 'checkouts from this address already hold % units (at most %), this one asks for %',
      held, cfg.max_units_per_address, r ->> 'item_count'
      using errcode = 'CKH05',
            detail = jsonb_build_object(
              'max', cfg.max_units_per_address,
              'held', held,
              'requested', (r ->> 'item_count')::integer,
              'retry_after', soonest)::text;
  end if;
  return r;
end
$$;
comment on function checkout.begin_client_checkout(uuid, jsonb, jsonb, text, text, boolean) is
  'Service role only (create-preference). checkout.begin_checkout for a client request from p_client_address: the order session records the address''s key (private.client_address_key), and the unpaid, unexpired checkouts from that address may hold at most max_units_per_address units together; with p_marketing_opt_in, the payer''s email is asked to confirm the marketing box (email.request_marketing_opt_in). Errors: those of begin_checkout; CKH05 over the address''s cap (detail {"max", "held", "requested", "retry_after": when the soonest of its holds ends}; nothing written). An address that is not one (null, garbage) is not capped.';
grant execute on function checkout.begin_client_checkout(uuid, jsonb, jsonb, text, text, boolean) to service_role;

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
