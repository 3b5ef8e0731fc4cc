// Run by plain `node` (no flags) in the folder where the tarball is installed:
// imports both entry points and constructs a server client there.
import { createStorefront, InsufficientStockError } from '@mp-checkout/storefront';
import { createStorefrontServerClient } from '@mp-checkout/storefront/server';

const headers = new Headers();
const { supabase, storefront } = createStorefrontServerClient(new Request('http://shop.test/'), headers, {
  supabaseUrl: 'http://127.0.0.1:9',
  supabaseAnonKey: 'anon',
});
let bare = 'constructed';
try {
  // What the issue saw: supabase-js alone on a Node without a global WebSocket.
  const { createClient } = await import('@supabase/supabase-js');
  createClient('http://127.0.0.1:9', 'anon');
} catch (err) {
  bare = err instanceof Error ? err.message : String(err);
}
console.log(JSON.stringify({
  node: process.versions.node,
  execArgv: process.execArgv,
  nodeOptions: process.env.NODE_OPTIONS ?? null,
  globalWebSocket: typeof globalThis.WebSocket,
  serverClient: typeof supabase.channel === 'function' && typeof storefront.cart.get === 'function',
  browserEntry: typeof createStorefront === 'function' && new InsufficientStockError('x', []).code,
  bare,
}));
