-- Table privileges stated in full, so they hold whatever Supabase's default
-- privileges are: projects created before 2026 grant ALL on every new public
-- table and sequence to anon, authenticated and service_role; newer projects
-- grant nothing. The earlier migrations only granted, which is right for the
-- second and leaves the first wide open (anon could read every cart, and
-- shoppers could write their order sessions and orders; RLS was the only
-- guard). Revoke everything, then grant exactly what each role needs.
-- `npm test` runs the grant and RLS tests under both defaults.

revoke all on all tables in schema public from anon, authenticated, service_role;
revoke all on all sequences in schema public from anon, authenticated, service_role;

-- The catalog: readable by everyone; written by the service (and the owner).
grant select on public.products, public.variants to anon, authenticated;
grant select, insert, update, delete on public.products, public.variants to service_role;

-- Carts: the shopper's own (RLS), through the cart RPC; carts are never
-- deleted by shoppers (clear_cart empties them), lines are.
grant select, insert, update on public.carts to authenticated;
grant select, insert, update, delete on public.cart_items to authenticated;
grant select, insert, update, delete on public.carts, public.cart_items to service_role;

-- Checkouts and orders: shoppers read their own (RLS); only the checkout
-- routines write.
grant select on public.order_sessions, public.orders, public.order_lines to authenticated;
grant select, insert, update, delete on public.order_sessions, public.stock_reservations to service_role;
grant select, insert on public.order_session_events to service_role;
grant select, insert, update on public.orders, public.order_lines, public.payment_events, public.payment_refunds to service_role;
grant select, insert, update, delete on public.coupons to service_role;
grant usage on sequence public.order_number_seq to service_role;
