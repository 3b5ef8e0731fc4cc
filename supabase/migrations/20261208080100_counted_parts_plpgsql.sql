-- The parts counted toward a session in PL/pgSQL (issue 25): as SQL
-- functions with their own search_path they were parsed and planned again at
-- every call, four times per payment. Same definitions as
-- supabase/schemas/06_payments_and_orders.sql.

create or replace function private.counted_parts(p_order_session_id uuid)
returns setof checkout.order_payments
language plpgsql stable set search_path = ''
as $$
begin
  -- PL/pgSQL keeps the plan for the connection; a SQL function with its own
  -- search_path is parsed and planned again at every call (issue 25).
  return query
  select p.*
    from checkout.order_payments p
   where p.order_session_id = p_order_session_id and p.order_id is null
     and not exists (select 1 from checkout.payment_refunds r where r.payment_id = p.payment_id);
end
$$;
comment on function private.counted_parts(uuid) is
  'The approved parts that count toward an order session and wait for the rest: in checkout.order_payments, without an order and not owed back.';
grant execute on function private.counted_parts(uuid) to service_role;

create or replace function private.counted_amount(p_order_session_id uuid)
returns numeric
language plpgsql stable set search_path = ''
as $$
begin
  return (select coalesce(sum(p.amount), 0) from private.counted_parts(p_order_session_id) p);
end
$$;
comment on function private.counted_amount(uuid) is
  'What the parts counted toward an order session add up to (private.counted_parts).';
grant execute on function private.counted_amount(uuid) to service_role;
