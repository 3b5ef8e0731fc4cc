-- Issue 25: create-preference's checkout writes its order session once.
-- checkout.begin_client_checkout inserted the session through begin_checkout
-- and then updated it with the client address's key: a second version of a
-- row with a dozen indexes (0.5 ms of its 3 ms per checkout in
-- npm run bench:profile). Now it passes the key in a transaction-local
-- setting (checkout.client_address) and begin_checkout writes it with the
-- row. As declared in supabase/schemas/05_checkout.sql and 08_fair_stock.sql.

create or replace function checkout.begin_checkout(
  p_session_id uuid,
  p_payer jsonb,
  p_shipping_address jsonb,
  p_coupon_code text default null
)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  cfg private.settings := private.current_settings();
  prev_id uuid;
  prev_ids uuid[];
  v_group uuid;
  snap record;
  coupon record;
  s public.order_sessions;
  v_result jsonb;
begin
  if p_session_id is null then
    raise exception 'session id is required' using errcode = 'CKI01';
  end if;
  if jsonb_typeof(p_payer) is distinct from 'object'
     or coalesce(p_payer ->> 'email', '') !~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$' then
    raise exception 'payer must be an object with a valid email' using errcode = 'CKI01';
  end if;
  if jsonb_typeof(p_shipping_address) is distinct from 'object' then
    raise exception 'shipping address must be an object' using errcode = 'CKI01';
  end if;

  -- Locks, always in this order everywhere: the admission line and slots
  -- (only begin_checkout takes them), the shopper's cart, order sessions, the
  -- coupon, then variants by id. The variant locks serialise checkouts of a
  -- hot product, so everything that can be done before them is: they are
  -- taken last, by the update that checks and counts, and held only for
  -- that and the reservation rows.

  -- 1. Admission: this checkout's turn for its variants.
  perform private.checkout_admission(p_session_id, cfg.checkout_slots_per_variant);

  -- One checkout at a time per shopper: lock the cart.
  perform 1 from public.carts where session_id = p_session_id for update;
  if not found then
    raise exception 'the cart is empty' using errcode = 'CKC01';
  end if;

  -- A shopper has at most one active order session: the previous one is
  -- cancelled and its stock released before this one reserves. The new
  -- session joins its checkout group (04_order_sessions.sql).
  select coalesce(array_agg(id order by id), '{}'), min(checkout_group::text)::uuid into prev_ids, v_group
    from (select id, checkout_group from public.order_sessions
           where session_id = p_session_id and status = 'active'
           order by id
             for update) prev;

  -- 2. The snapshot; "sold out" answered here, before any variant lock.
  snap := private.checkout_snapshot(p_session_id, prev_ids);

  -- 3. The coupon.
  coupon := private.checkout_coupon(p_coupon_code, snap.subtotal, snap.currency, prev_ids);

  -- Cancel the previous session. Its release updates its variants, so they
  -- are locked with the cart's, by id, first.
  if cardinality(prev_ids) > 0 then
    perform 1 from public.variants v
     where v.id = any (snap.variant_ids)
        or v.id in (select r.variant_id from checkout.stock_reservations r where r.order_session_id = any (prev_ids))
     order by v.id
       for update;
    foreach prev_id in array prev_ids loop
      perform private.close_order_session(prev_id, 'cancelled', 'replaced by a new checkout');
    end loop;
  end if;

  -- The order session and its events (written before the variant locks, to
  -- hold those briefly; an error below rolls them back).
  -- The client address's key comes from checkout.begin_client_checkout
  -- (a transaction-local setting): the row is written once, with it.
  insert into public.order_sessions (
    session_id, lines, item_count, subtotal, discount, total, currency,
    coupon_id, coupon_code, payer, shipping_address, expires_at, checkout_group, client_address
  ) values (
    p_session_id, snap.lines, snap.item_count, snap.subtotal, coupon.discount, snap.subtotal - coupon.discount, snap.currency,
    coupon.coupon_id, coupon.coupon_code, p_payer, p_shipping_address, now() + cfg.reservation_ttl,
    coalesce(v_group, gen_random_uuid()), nullif(current_setting('checkout.client_address', true), '')
  )
  returning * into s;
  insert into checkout.order_session_events (order_session_id, kind, detail) values
    (s.id, 'created', jsonb_build_object('total', s.total, 'currency', s.currency, 'coupon', s.coupon_code,
                                         'replaces', to_jsonb(prev_ids))),
    (s.id, 'reserved', jsonb_build_object('lines', (
       select jsonb_agg(jsonb_build_object('sku', x.sku, 'quantity', x.quantity))
         from jsonb_to_recordset(snap.lines) as x(sku text, quantity integer)), 'expires_at', s.expires_at));

  v_result := private.order_session_json(s);

  -- 4. The reservation, last.
  perform private.checkout_reserve(s.id, snap.lines, s.expires_at);

  return v_result;
end
$$;
comment on function checkout.begin_checkout(uuid, jsonb, jsonb, text) is
  'Service role only. Turns a shopper''s cart into an order session with its stock reserved for reservation_ttl, in steps: waits its turn for each variant (private.checkout_admission: first come first served, checkout_slots_per_variant at a time; a cart that looks short does not wait), locks the cart, snapshots the lines at the prices read now and answers "sold out" before any variant lock (private.checkout_snapshot), applies the coupon (private.checkout_coupon), cancels the previous active session (the new one joins its checkout_group), writes the order session, then reserves: per variant by id one conditional update that locks, checks and counts, and the reservation rows (private.checkout_reserve). The session records the client address key that checkout.begin_client_checkout passes in the transaction-local setting checkout.client_address (none when unset). Errors (nothing written): CKI01 bad input, CKC01 empty cart, CKS01 not enough stock (detail {"short": [...]}, built by private.short_lines), CKM01 mixed currencies, CKP01/02/03 coupon unknown, not applicable, used up.';
grant execute on function checkout.begin_checkout(uuid, jsonb, jsonb, text) to service_role;

create or replace function checkout.begin_client_checkout(
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
