-- Client input never answers 500 (issue 20).
--
-- 1. checkout.require_user: the Edge Functions call it in the same
--    transaction as every routine they run for a signed-in user
--    (edge/_shared/db.ts asUser). A user deleted while an access token of
--    theirs is still unexpired gets SQLSTATE CKA03, which the functions
--    answer 401, instead of a foreign-key violation (23503, a 500) from
--    carts or checkout.return_lookups, and nothing is written for them.
-- 2. admin.adjust_stock checks the sum against integer's range before adding
--    (a stock on hand near 2^31 plus a delta was SQLSTATE 22003, a 500): CKI01
--    naming delta, with the largest delta that still fits.

create function checkout.require_user(p_user_id uuid)
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if p_user_id is null or not exists (select 1 from auth.users u where u.id = p_user_id) then
    raise exception 'the user this token was issued to no longer exists'
      using errcode = 'CKA03',
            detail = jsonb_build_object('user_id', p_user_id)::text,
            hint = 'Sign in again.';
  end if;
end
$$;
revoke execute on function checkout.require_user(uuid) from public, anon, authenticated;
comment on function checkout.require_user(uuid) is
  'Service role only. Raises CKA03 (the Edge Functions answer 401 unauthenticated) unless the Auth user exists: run first, in the same transaction, by every routine call a function makes for a signed-in user, so a deleted user''s unexpired token writes nothing.';
grant execute on function checkout.require_user(uuid) to service_role;

create or replace function admin.adjust_stock(p_claims jsonb, p_variant_id text, p_delta integer, p_reason text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v public.variants;
  live_reserved integer;
  live_sessions integer;
  a admin.stock_adjustments;
  max_on_hand constant bigint := 2147483647;
begin
  perform admin.require_staff(p_claims);
  perform admin.check_input(p_variant_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', 'variant_id', 'the variant id must be a uuid');
  perform admin.check_input(p_delta is not null and p_delta <> 0, 'delta', 'the adjustment must be a whole number of units other than zero');
  perform admin.check_input(abs(p_delta) <= 1000000, 'delta', 'the adjustment is at most 1,000,000 units');
  perform admin.check_input(length(btrim(coalesce(p_reason, ''))) between 3 and 500, 'reason', 'a reason of 3 to 500 characters is required');
  -- The same lock a checkout and a payment take: an adjustment and a
  -- reservation or a stock decrement never interleave.
  select * into v from public.variants x where x.id = p_variant_id::uuid for update;
  if not found then
    raise exception 'no such variant' using errcode = 'CKO01', detail = jsonb_build_object('variant_id', p_variant_id)::text;
  end if;
  select coalesce(sum(r.quantity), 0)::integer, count(distinct r.order_session_id)::integer into live_reserved, live_sessions
    from checkout.stock_reservations r where r.variant_id = v.id and r.expires_at > now();
  -- Checked in bigint before any integer sum below can overflow.
  if v.stock_on_hand::bigint + p_delta > max_on_hand then
    raise exception 'stock on hand cannot go above % (it is %)', max_on_hand, v.stock_on_hand
      using errcode = 'CKI01',
            detail = jsonb_build_object('field', 'delta', 'on_hand', v.stock_on_hand, 'maximum_delta', max_on_hand - v.stock_on_hand)::text;
  end if;
  if v.stock_on_hand + p_delta < 0 then
    raise exception 'stock on hand cannot go below zero (it is %)', v.stock_on_hand
      using errcode = 'CKI01', detail = jsonb_build_object('field', 'delta', 'on_hand', v.stock_on_hand, 'minimum_delta', -v.stock_on_hand)::text;
  end if;
  -- Units reserved by checkouts being paid must stay on hand: their payments
  -- turn the reservation into a stock decrement.
  if v.stock_on_hand + p_delta < live_reserved then
    raise exception 'stock on hand cannot go below the % unit(s) reserved by % checkout(s) in progress', live_reserved, live_sessions
      using errcode = 'CKS02',
            detail = jsonb_build_object('on_hand', v.stock_on_hand, 'reserved', live_reserved, 'reserving_sessions', live_sessions,
                                        'minimum_delta', live_reserved - v.stock_on_hand)::text;
  end if;
  update public.variants set stock_on_hand = stock_on_hand + p_delta, updated_at = now() where id = v.id;
  insert into admin.stock_adjustments (variant_id, delta, on_hand_before, on_hand_after, reserved_then, reason, staff_id, staff_email)
  values (v.id, p_delta, v.stock_on_hand, v.stock_on_hand + p_delta, live_reserved, btrim(p_reason), (p_claims ->> 'sub')::uuid, p_claims ->> 'email')
  returning * into a;
  return jsonb_build_object('id', a.id, 'variant_id', v.id, 'sku', v.sku, 'delta', a.delta, 'on_hand_before', a.on_hand_before,
                            'on_hand_after', a.on_hand_after, 'reserved', live_reserved, 'available', a.on_hand_after - live_reserved,
                            'reason', a.reason, 'created_at', a.created_at);
end
$$;
comment on function admin.adjust_stock(jsonb, text, integer, text) is
  'Service role only, staff claims required. Changes a variant''s stock on hand by p_delta units with a reason, recorded in admin.stock_adjustments. Refuses (writing nothing) a result below zero or above integer''s range (CKI01, field delta, with minimum_delta or maximum_delta) or below the units reserved by unexpired checkouts (CKS02), so a lowered stock never breaks a payment in flight.';
